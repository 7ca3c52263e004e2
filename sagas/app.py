"""Sagas: trip booking with compensations.

    BookingWorkflow/<tripId>/run
      ├─ flights/reserve  ──► push "cancel flight"      (two-phase: reserve, later confirm or cancel)
      ├─ cars/reserve     ──► push "cancel car"
      ├─ push "refund payment <paymentId>"              (idempotency key: pushed *before* the charge)
      ├─ charge payment <paymentId>   ✗ terminal error ──► run the stack in reverse:
      │        (a transient error is retried by Restate)     refund, cancel car, cancel flight; then fail
      ├─ flights/confirm
      └─ cars/confirm

Every step is journaled (service calls, `ctx.run_typed`), so after a crash the workflow resumes where it
was and each reservation, charge, confirmation and compensation takes effect once.
"""

import restate

from sagas.booking_workflow import booking_workflow
from sagas.cars import cars
from sagas.flights import flights

app = restate.app([booking_workflow, flights, cars])
