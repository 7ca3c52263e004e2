"""Payment state machine.

    payments/<paymentId>/makePayment {accountId, amount}      payments/<paymentId>/cancelPayment
        status NEW ──withdraw ok──► COMPLETED ──cancel──► CANCELLED (+ refund: accounts/<id>/deposit)
        status NEW ─────────────────cancel──────────────► CANCELLED (a later makePayment does nothing)
        COMPLETED / CANCELLED ──after the expiry (1 h)──► forgotten (expireToken clears the state)

One invocation at a time per payment id (virtual object), so a payment and its cancellation never race.
"""

import restate

from statemachinepayments.accounts import accounts
from statemachinepayments.payment_service import payments

app = restate.app([payments, accounts])
