"""The `payments` virtual object: one state machine per payment id (the payment token)."""

from typing import Literal

from pydantic import Field
from restate import ObjectContext, VirtualObject

from patterns.wire import CamelModel, Key, NoInput, bad_input_is_400
from statemachinepayments import accounts
from statemachinepayments.stubs import EXPIRY_TIMEOUT

Status = Literal["NEW", "COMPLETED", "CANCELLED"]


class PaymentRequest(CamelModel):
    account_id: Key
    amount: int = Field(gt=0)  # cents


payments = VirtualObject("payments", invocation_context_managers=[bad_input_is_400])


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
        ctx.object_send(expire_token, key=payment_id, arg=None, send_delay=EXPIRY_TIMEOUT.get())
    return f"{payment_id} successful: {str(result.success).lower()}"


@payments.handler("cancelPayment")
async def cancel_payment(ctx: ObjectContext, _: NoInput) -> None:
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
        ctx.object_send(expire_token, key=ctx.key(), arg=None, send_delay=EXPIRY_TIMEOUT.get())
    cancelled: Status = "CANCELLED"
    ctx.set("status", cancelled)


# Only the payment's own timer calls it: through the ingress it would forget a payment early, and allow the
# same payment id to be charged a second time.
@payments.handler("expireToken", ingress_private=True)
async def expire_token(ctx: ObjectContext, _: NoInput) -> None:
    ctx.clear_all()
