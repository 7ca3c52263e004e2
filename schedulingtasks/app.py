"""Scheduling tasks: payment reminders with durable timers.

    Stripe webhook ──► PaymentTracker/<invoiceId>/onPaymentFailure ──► reminder #1
                                    │  delayed call to itself (1 day)
                                    ▼
                       PaymentTracker/<invoiceId>/remind ──► reminder #2, #3, then escalate to support
                                    ▲
    Stripe webhook ──► PaymentTracker/<invoiceId>/onPaymentSuccess (sets `paid`: the loop stops)

Restate keeps the timers across failures of the service and of restate-server, and fires them.
"""

import restate

from schedulingtasks.payment_reminders import payment_tracker

app = restate.app([payment_tracker])
