"""The Python side of the benchmark (bench/js/services.mjs is the JavaScript side, handler for handler).

`product` is the durablerpc pattern's own virtual object, unchanged.
"""

import restate
from restate import Context, Service

from durablerpc.product_service import product

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


app = restate.app([echo, steps, product])
