"""Webhook callbacks: any Restate handler can be a durable webhook target.

    Stripe ──webhook──► Restate ingress ──► WebhookCallbackRouter/onStripeEvent
                        idempotency-key = event id      │ one-way send, keyed by invoice id
                                                        ▼
                                       PaymentTracker/<invoice id>/onPaymentFailure | onPaymentSuccess

Restate persists the webhook before answering Stripe, then processes it to the end exactly once.
"""

import restate

from webhookcallbacks.payment_tracker import payment_tracker
from webhookcallbacks.webhook_callback_router import webhook_callback_router

app = restate.app([webhook_callback_router, payment_tracker])
