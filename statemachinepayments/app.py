"""Payment state machine.

    payments/<paymentId>/makePayment {accountId, amount}      payments/<paymentId>/cancelPayment
        NEW ──makePayment, withdraw ok──► COMPLETED ──cancelPayment──► CANCELLED (+ refund: accounts/<id>/deposit)
        NEW ──makePayment, withdraw refused──► NEW (answers "successful: false")
        NEW ──cancelPayment──► CANCELLED (a later makePayment does nothing)
        COMPLETED / CANCELLED ──expireToken, after the expiry (1 h)──► forgotten (the state is cleared)

One invocation at a time per payment id (virtual object), so a payment and its cancellation never race.
"""

import restate

from statemachinepayments.accounts import accounts
from statemachinepayments.payment_service import payments

app = restate.app([payments, accounts])
