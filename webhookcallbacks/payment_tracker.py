"""The payment tracker: one virtual object per invoice, recording the payment events it receives.

A stand-in for your own business logic (the scheduling tasks pattern has a tracker that sends payment
reminders). Its handler names and event shape are the ones the router sends. Only the router records
events: those handlers are not reachable through the ingress (nobody can mark an invoice paid by hand);
`getStatus` is.
"""

from typing import Any

import restate
from restate import ObjectContext, ObjectSharedContext, VirtualObject

from patterns.wire import CamelModel, NoInput, bad_input_is_400
from webhookcallbacks.stripe_event import StripeEvent

logger = restate.getLogger(__name__)


class PaymentStatus(CamelModel):
    paid: bool = False
    events: list[StripeEvent] = []


payment_tracker = VirtualObject("PaymentTracker", invocation_context_managers=[bad_input_is_400])


@payment_tracker.handler("onPaymentFailure", ingress_private=True)
async def on_payment_failure(ctx: ObjectContext, event: StripeEvent) -> None:
    logger.info("Payment failed for invoice %s (event %s)", ctx.key(), event.id)
    await record(ctx, event)


@payment_tracker.handler("onPaymentSuccess", ingress_private=True)
async def on_payment_success(ctx: ObjectContext, event: StripeEvent) -> None:
    logger.info("Payment succeeded for invoice %s (event %s)", ctx.key(), event.id)
    ctx.set("paid", True)
    await record(ctx, event)


async def record(ctx: ObjectContext, event: StripeEvent) -> None:
    events = await ctx.get("events", type_hint=list[dict[str, Any]]) or []
    ctx.set("events", [*events, event.model_dump(mode="json")])


@payment_tracker.handler("getStatus", kind="shared")
async def get_status(ctx: ObjectSharedContext, _: NoInput) -> PaymentStatus:
    return PaymentStatus(
        paid=await ctx.get("paid", type_hint=bool) or False,
        events=[StripeEvent.model_validate(e) for e in await ctx.get("events", type_hint=list[dict[str, Any]]) or []],
    )
