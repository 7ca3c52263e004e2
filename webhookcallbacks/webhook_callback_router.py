"""The webhook endpoint: point Stripe's webhooks at `<ingress>/WebhookCallbackRouter/onStripeEvent`."""

import restate
from restate import Context, Service

from patterns.wire import bad_input_is_400
from webhookcallbacks.payment_tracker import on_payment_failure, on_payment_success
from webhookcallbacks.stripe_event import StripeEvent

logger = restate.getLogger(__name__)

webhook_callback_router = Service("WebhookCallbackRouter", invocation_context_managers=[bad_input_is_400])


@webhook_callback_router.handler("onStripeEvent")
async def on_stripe_event(ctx: Context, event: StripeEvent) -> None:
    # Once Restate has accepted the webhook, the sends below happen exactly once, even if this process
    # crashes; with the event id as idempotency key, Stripe's redeliveries are absorbed too.
    invoice = event.data.object.id
    if event.type == "invoice.payment_failed":
        logger.info("Routing event %s (%s) to PaymentTracker %s", event.id, event.type, invoice)
        ctx.object_send(on_payment_failure, key=invoice, arg=event)
    elif event.type == "invoice.payment_succeeded":
        logger.info("Routing event %s (%s) to PaymentTracker %s", event.id, event.type, invoice)
        ctx.object_send(on_payment_success, key=invoice, arg=event)
    else:
        logger.info("Ignoring event %s of type %s", event.id, event.type)
