"""The `payments` virtual object: one state machine per payment id (the payment token)."""

from datetime import timedelta
from typing import Literal

from pydantic import Field
from restate import ObjectContext, VirtualObject

from patterns.chaos import delay
from patterns.wire import CamelModel, bad_input_is_400
from statemachinepayments import accounts

Status = Literal["NEW", "COMPLETED", "CANCELLED"]


class PaymentRequest(CamelModel):
    account_id: str = Field(min_length=1)
    amount: int = Field(gt=0)  # cents


payments = VirtualObject("payments", invocation_context_managers=[bad_input_is_400])


def expiry() -> timedelta:
    """How long a payment id is remembered (PATTERNS_DURATION_STATEMACHINEPAYMENTS_EXPIRY, default 1 h)."""
    return delay("statemachinepayments.expiry", timedelta(hours=1))


@payments.handler("makePayment")
async def make_payment(ctx: ObjectContext, payment: PaymentRequest) -> str:
    payment_id = ctx.key()
    # Exclusive per payment id: a concurrent cancelPayment waits until this is done (and vice versa).
    match await ctx.get("status", type_hint=str):
        case "COMPLETED":
            return f"{payment_id} previously completed"
        case "CANCELLED":
            return f"{payment_id} was cancelled before"

    result = await ctx.object_call(accounts.withdraw, key=payment.account_id, arg=payment.amount)
    if result.success:
        status: Status = "COMPLETED"
        ctx.set("status", status)
        ctx.set("payment", payment)
        # Forget this payment id later (a durable timer: a delayed call to ourselves).
        ctx.object_send(expire_token, key=payment_id, arg=None, send_delay=expiry())
    return f"{payment_id} successful: {str(result.success).lower()}"


@payments.handler("cancelPayment")
async def cancel_payment(ctx: ObjectContext) -> None:
    status = await ctx.get("status", type_hint=str)
    if status == "CANCELLED":
        return
    if status == "COMPLETED":
        # Roll the payment back: refund it (a one-way call; Restate delivers it exactly once).
        payment = await ctx.get("payment", type_hint=PaymentRequest)
        assert payment is not None
        ctx.object_send(accounts.deposit, key=payment.account_id, arg=payment.amount)
    else:
        # The cancellation overtook the payment: remember it, so that a later makePayment does nothing.
        ctx.object_send(expire_token, key=ctx.key(), arg=None, send_delay=expiry())
    cancelled: Status = "CANCELLED"
    ctx.set("status", cancelled)


@payments.handler("expireToken")
async def expire_token(ctx: ObjectContext) -> None:
    ctx.clear_all()
