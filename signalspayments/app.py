"""Payment signals (Stripe, advanced).

    curl ──► payments/processPayment ──► ctx.run("stripe call"): create + confirm a PaymentIntent ──► Stripe
                   │                       (idempotency key from ctx.uuid(),                           │
                   │                        metadata.restate_callback_id = awakeable id)               │
                   │  status != processing: done (succeeded, or "Payment declined")                    │
                   │  status == processing: suspended on the awakeable ◄── resolve ──┐                  │
                   ▼                                                                  │      webhook    │
              200 / 4xx / 500                                  payments/processWebhook ◄── (signed) ────┘

One handler covers both ways Stripe can answer: at once, or later through a webhook. The webhook
handler finds the waiting invocation through the awakeable id in the payment intent's metadata.
"""

import restate

from signalspayments.payment_service import payments

app = restate.app([payments])
