"""The `accounts` virtual object: a balance in cents per account id."""

from typing import Annotated

from pydantic import Field, Strict
from restate import ObjectContext, VirtualObject

from patterns.wire import CamelModel, bad_input_is_400
from statemachinepayments.stubs import opening_balance

Cents = Annotated[int, Strict(), Field(gt=0)]


class Result(CamelModel):
    success: bool
    reason: str | None = None


# Only `payments` moves money: withdrawals and refunds are not reachable through the ingress.
accounts = VirtualObject("accounts", ingress_private=True, invocation_context_managers=[bad_input_is_400])


@accounts.handler()
async def deposit(ctx: ObjectContext, amount_cents: Cents) -> None:
    ctx.set("balance", await balance(ctx) + amount_cents)


@accounts.handler()
async def withdraw(ctx: ObjectContext, amount_cents: Cents) -> Result:
    current = await balance(ctx)
    if current < amount_cents:
        return Result(success=False, reason=f"Insufficient funds: {current} cents")
    ctx.set("balance", current - amount_cents)
    return Result(success=True)


async def balance(ctx: ObjectContext) -> int:
    current = await ctx.get("balance", type_hint=int)
    if current is None:
        # A new account starts with some money; it is kept from the first call on, even if that call
        # withdraws nothing.
        current = opening_balance(ctx.random())
        ctx.set("balance", current)
    return current
