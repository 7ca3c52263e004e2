"""The PaymentTracker: payment reminders on durable timers (delayed calls), keyed by invoice id."""

from __future__ import annotations

import restate
from restate import ObjectContext, VirtualObject

from patterns.wire import CamelModel, bad_input_is_400
from schedulingtasks.stubs import REMINDER_INTERVAL, escalate_to_human, send_reminder_email

logger = restate.getLogger(__name__)

MAX_REMINDERS = 3


class StripeEventData(CamelModel):
    id: str
    customer: str


class StripeEvent(CamelModel):
    """The part of a Stripe webhook event the tracker uses (as the TypeScript example's StripeEvent)."""

    type: str
    created: int
    data: StripeEventData


payment_tracker = VirtualObject("PaymentTracker", invocation_context_managers=[bad_input_is_400])


@payment_tracker.handler("onPaymentSuccess")
async def on_payment_success(ctx: ObjectContext, event: StripeEvent) -> None:
    # A pending reminder sees `paid` when its timer fires, and stops the loop.
    logger.info("Payment received for invoice %s (event %s)", ctx.key(), event.data.id)
    ctx.set("paid", True)


@payment_tracker.handler("onPaymentFailure")
async def on_payment_failure(ctx: ObjectContext, event: StripeEvent) -> None:
    if await ctx.get("paid", type_hint=bool):
        logger.info("Invoice %s is already paid: no reminders", ctx.key())
        return
    # The guard: the reminder loop re-enters through the internal `remind` handler, not through this
    # public one, so a second failure event for the same invoice cannot start a parallel chain (which
    # would share the counter and could escalate twice). The chain exists once `reminders_count` is set.
    if await ctx.get("reminders_count", type_hint=int) is not None:
        logger.info("Reminders for invoice %s already running: ignoring event %s", ctx.key(), event.data.id)
        return
    await remind_or_escalate(ctx, event)


@payment_tracker.handler(ingress_private=True)
async def remind(ctx: ObjectContext, event: StripeEvent) -> None:
    """The loop's next step, called by the tracker itself with a delay (not reachable from the ingress)."""
    if await ctx.get("reminders_count", type_hint=int) is None:
        logger.info("No reminders running for invoice %s: nothing to do", ctx.key())
        return
    if await ctx.get("paid", type_hint=bool):
        logger.info("Invoice %s was paid: reminders stop", ctx.key())
        return
    await remind_or_escalate(ctx, event)


async def remind_or_escalate(ctx: ObjectContext, event: StripeEvent) -> None:
    count = await ctx.get("reminders_count", type_hint=int) or 0
    if count < MAX_REMINDERS:
        ctx.set("reminders_count", count + 1)
        await ctx.run_typed("send reminder", send_reminder_email, invoice_id=event.data.id)
        # A durable timer: Restate stores the delayed call and makes it when the time has come,
        # through crashes and restarts of this service and of restate-server.
        ctx.object_send(remind, key=ctx.key(), arg=event, send_delay=REMINDER_INTERVAL.get())
    else:
        await ctx.run_typed("escalate", escalate_to_human, invoice_id=event.data.id)
        ctx.set("escalated", True)
