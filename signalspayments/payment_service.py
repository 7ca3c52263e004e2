"""The `payments` service: one durable handler for both the synchronous and the webhook answer of Stripe."""

from __future__ import annotations

from typing import Any

import restate
from restate import Context, RunOptions, Service, TerminalError
from restate.serde import BytesSerde

from patterns.wire import CamelModel, bad_input_is_400, is_awakeable_id
from signalspayments.stripe_utils import (
    RESTATE_CALLBACK_ID,
    PaymentRequest,
    create_payment_intent,
    is_payment_intent,
    parse_webhook_call,
)

logger = restate.getLogger(__name__)

payments = Service("payments", invocation_context_managers=[bad_input_is_400])


class WebhookResponse(CamelModel):
    received: bool


def ensure_success(status: str) -> None:
    if status == "succeeded":
        return
    if status in ("requires_payment_method", "canceled"):
        raise TerminalError(f"Payment declined: {status}")
    raise RuntimeError(f"Unhandled status: {status}")  # retried: a later attempt may see a final status


@payments.handler("processPayment")
async def process_payment(ctx: Context, request: PaymentRequest) -> None:
    """`{"paymentMethodId": "pm_card_visa", "amount": 109, "delayedStatus": false}` -> 200 when paid."""
    # A deterministic idempotency key for Stripe: the same on every retry of this invocation.
    idempotency_key = str(ctx.uuid())

    # An awakeable: a durable promise that the webhook handler can complete from outside.
    webhook_promise_id, webhook_promise = ctx.awakeable(type_hint=dict[str, Any])

    # The call to Stripe, journaled: once it returned, a retry replays its result instead of paying again.
    payment_intent = await ctx.run_typed(
        "stripe call",
        create_payment_intent,
        RunOptions(type_hint=dict[str, Any]),
        request=request,
        idempotency_key=idempotency_key,
        callback_id=webhook_promise_id,
    )

    if payment_intent["status"] != "processing":
        # Stripe answered at once: done.
        logger.info("Request %s was processed synchronously!", idempotency_key)
        ensure_success(payment_intent["status"])
        return

    # No final answer yet: Stripe will call the webhook when it is done. Until then this invocation is
    # suspended; it resumes where it left off, even after a crash or a restart of the service.
    logger.info("Payment intent for %s still 'processing', awaiting webhook call...", idempotency_key)
    processed_payment_intent = await webhook_promise
    logger.info("Webhook call for %s received!", idempotency_key)
    ensure_success(processed_payment_intent["status"])


# Stripe POSTs JSON with its own content type: take the raw body (bytes, any content type), since the
# signature is computed over the exact bytes. (A handler without input would reject every webhook.)
@payments.handler("processWebhook", accept="*/*", input_serde=BytesSerde())
async def process_webhook(ctx: Context, body: bytes) -> WebhookResponse:
    event = parse_webhook_call(body, ctx.request().headers.get("stripe-signature"))

    if not is_payment_intent(event):
        logger.info("Unhandled event type %s", event.type)
        return WebhookResponse(received=True)

    payment_intent = event.data.object.to_dict()  # a plain dict, as processPayment awaits it
    logger.info("Received webhook call for payment intent %s (%s)", payment_intent["id"], payment_intent["status"])

    webhook_promise_id = (payment_intent.get("metadata") or {}).get(RESTATE_CALLBACK_ID)
    if not webhook_promise_id:
        raise TerminalError(f"Missing callback property: {RESTATE_CALLBACK_ID}", status_code=404)
    if not is_awakeable_id(webhook_promise_id):
        # An id from outside: checked before it reaches the journal (see patterns.wire.is_awakeable_id).
        raise TerminalError(f"Invalid callback property: {RESTATE_CALLBACK_ID} is not an awakeable id", 400)

    ctx.resolve_awakeable(webhook_promise_id, payment_intent)
    return WebhookResponse(received=True)
