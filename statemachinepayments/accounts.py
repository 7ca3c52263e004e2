"""The `accounts` virtual object: a balance in cents per account id."""

import os

from restate import ObjectContext, TerminalError, VirtualObject

from patterns.wire import CamelModel, bad_input_is_400


class Result(CamelModel):
    success: bool
    reason: str | None = None


accounts = VirtualObject("accounts", invocation_context_managers=[bad_input_is_400])


@accounts.handler()
async def deposit(ctx: ObjectContext, amount_cents: int) -> None:
    check_amount(amount_cents)
    ctx.set("balance", await balance(ctx) + amount_cents)


@accounts.handler()
async def withdraw(ctx: ObjectContext, amount_cents: int) -> Result:
    check_amount(amount_cents)
    current = await balance(ctx)
    if current < amount_cents:
        return Result(success=False, reason=f"Insufficient funds: {current} cents")
    ctx.set("balance", current - amount_cents)
    return Result(success=True)


def check_amount(amount: object) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise TerminalError(f"Amount must be greater than 0: amount = {amount}", status_code=400)


async def balance(ctx: ObjectContext) -> int:
    current = await ctx.get("balance", type_hint=int)
    if current is None:
        # A new account starts with some money: STATEMACHINEPAYMENTS_INITIAL_BALANCE cents if set, else a
        # random 100000-199999 as upstream, drawn from ctx.random() so that a retry draws the same amount.
        configured = os.environ.get("STATEMACHINEPAYMENTS_INITIAL_BALANCE", "").strip()
        current = int(configured) if configured else ctx.random().randint(100_000, 199_999)
        ctx.set("balance", current)  # kept from the first call on, even if that call withdraws nothing
    return current
