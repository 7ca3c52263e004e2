"""Durable RPC, idempotency and concurrency.

    curl / client ──► api.py (FastAPI :5000) ──► Restate ingress ──► product/<productId>/reserve
                      idempotency-key = reservationId             (virtual object, state `reserved`)

A request that reached Restate is processed durably; a retried request with the same idempotency key
gets the first response back instead of running again.
"""

import restate

from durablerpc.product_service import product

app = restate.app([product])
