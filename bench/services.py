"""The Python side of the benchmark (bench/js/services.mjs is the JavaScript side, handler for handler).

The patterns' own services, unchanged: durablerpc's `product`, sagas' `BookingWorkflow`, `flights` and
`cars`, parallelizework's `worker`, statemachinepayments' `payments` and `accounts` (served with the
payment failures off, the subtask sleep at 0 s and a large initial balance: see bench/__main__.py).
"""

import restate
from restate import Context, Service

from durablerpc.product_service import product
from parallelizework.fan_out_worker import worker
from sagas.booking_workflow import booking_workflow
from sagas.cars import cars
from sagas.flights import flights
from statemachinepayments.accounts import accounts
from statemachinepayments.payment_service import payments

echo = Service("echo")


@echo.handler("echo")
async def echo_handler(ctx: Context, message: str) -> str:
    return message


steps = Service("steps")


async def add(n: int) -> int:
    return n + 1


@steps.handler("threeSteps")
async def three_steps(ctx: Context, n: int) -> int:
    a = await ctx.run_typed("one", add, n=n)
    b = await ctx.run_typed("two", add, n=a)
    return await ctx.run_typed("three", add, n=b)


app = restate.app([echo, steps, product, booking_workflow, flights, cars, worker, accounts, payments])
