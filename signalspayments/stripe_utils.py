"""Talking to Stripe with the `stripe` library (the TypeScript example's `utils/stripe_utils.ts`).

Configuration comes from the environment only, read at call time:
- STRIPE_API_KEY: the secret key (`sk_test_...` of a Stripe test account, or any `sk_...` for localstripe);
- STRIPE_WEBHOOK_SECRET: the webhook signing secret (`whsec_...`);
- STRIPE_API_BASE (optional): another Stripe API server, e.g. localstripe on http://127.0.0.1:8420.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, cast

import stripe
from pydantic import Field
from restate import TerminalError

from patterns.wire import CamelModel

if TYPE_CHECKING:
    from stripe.params import PaymentIntentCreateParams

RESTATE_CALLBACK_ID = "restate_callback_id"

REQUIRED_ENV = ("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET")


def missing_settings() -> list[str]:
    return [name for name in REQUIRED_ENV if not os.environ.get(name)]


def _setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        # Terminal: retrying cannot help until the service is restarted with the setting.
        raise TerminalError(f"{name} is not set: see 'Run it' in signalspayments/README.md", status_code=500)
    return value


def stripe_client(http_client: stripe.HTTPClient) -> stripe.StripeClient:
    base = os.environ.get("STRIPE_API_BASE")
    return stripe.StripeClient(
        _setting("STRIPE_API_KEY"), base_addresses={"api": base} if base else {}, http_client=http_client
    )


class PaymentRequest(CamelModel):
    """`{"paymentMethodId": "pm_card_visa", "amount": 109, "delayedStatus": true}` (amount in cents)."""

    amount: int = Field(gt=0, examples=[109])
    payment_method_id: str = Field(min_length=1, examples=["pm_card_visa"])
    # Test aid: pretend Stripe answered 'processing', so that the webhook path is taken.
    delayed_status: bool = False


def confirmation_params() -> dict[str, Any]:
    """Stripe: the TypeScript example's settings. A local Stripe server (STRIPE_API_BASE set, localstripe)
    refuses both (400 `Unexpected ...`); a card-only intent needs no return URL there."""
    if os.environ.get("STRIPE_API_BASE"):
        return {"payment_method_types": ["card"]}
    return {"confirmation_method": "automatic", "return_url": "https://restate.dev/"}


async def create_payment_intent(request: PaymentRequest, idempotency_key: str, callback_id: str) -> dict[str, Any]:
    """Create and confirm a PaymentIntent; the awakeable id travels in its metadata to the webhook.

    Returns the intent as a plain dict (stripe >= 15 objects are not dicts, and Restate journals JSON).
    """
    http_client = stripe.HTTPXClient()  # async requests: no blocking call in a handler
    client = stripe_client(http_client)
    try:
        params: dict[str, Any] = {
            "payment_method": request.payment_method_id,
            "amount": request.amount,
            "currency": "usd",
            "confirm": True,
            "metadata": {RESTATE_CALLBACK_ID: callback_id},
            **confirmation_params(),
        }
        intent = await client.v1.payment_intents.create_async(
            params=cast("PaymentIntentCreateParams", params), options={"idempotency_key": idempotency_key}
        )
        result = intent.to_dict()
        if request.delayed_status:
            result["status"] = "processing"  # simulate a delayed notification, for testing
        return result
    except stripe.CardError as error:
        declined: stripe.PaymentIntent | None = error.error.payment_intent if error.error else None
        if declined is None and error.error and error.error.charge:
            # localstripe does not return the intent with a card error: find it through the charge.
            charge = await client.v1.charges.retrieve_async(error.error.charge)
            declined = await client.v1.payment_intents.retrieve_async(str(charge.payment_intent))
        status = declined.status if declined is not None else "declined"
        if request.delayed_status and declined is not None:
            result = declined.to_dict()
            result["status"] = "processing"  # simulate a delayed notification, for testing
            return result
        raise TerminalError(f"Payment declined: {status} - {error.user_message or error}") from error
    except stripe.InvalidRequestError as error:
        # A request Stripe will never accept (unknown payment method, bad amount): retrying cannot help.
        raise TerminalError(f"Stripe rejected the request: {error.user_message or error}", status_code=400) from error
    finally:
        await http_client.close_async()


def parse_webhook_call(body: bytes, signature: str | None) -> stripe.Event:
    """Verify the `stripe-signature` header over the raw body; 400 when it is missing or wrong."""
    if not signature:
        raise TerminalError("Missing 'stripe-signature' header.", status_code=400)
    try:
        return stripe.Webhook.construct_event(body, signature, _setting("STRIPE_WEBHOOK_SECRET"))
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise TerminalError(f"Webhook Error: {error}", status_code=400) from error


def is_payment_intent(event: stripe.Event) -> bool:
    return event.type.startswith("payment_intent")
