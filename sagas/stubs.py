"""A simulated payment provider (the TypeScript example's payment client), called inside `ctx.run_typed`.

The charge fails on purpose, with upstream's odds by default: 50 % of attempts are rejected for good
(terminal), and 80 % of the rest fail transiently (retried by Restate). Override through env:

    PATTERNS_FAILURES_SAGAS_PAYMENT_TERMINAL=1         every payment is rejected (compensations run)
    PATTERNS_FAILURES_SAGAS_PAYMENT_TERMINAL=0 \\
    PATTERNS_FAILURES_SAGAS_PAYMENT_RETRYABLE=first:2  two transient failures, then the charge goes through
    PATTERNS_FAILURES=0                                every payment succeeds at once
    PATTERNS_DURATION_SAGAS_PAYMENT=30s                the provider takes that long to answer (default 0)
"""

import asyncio
from datetime import timedelta

import restate
from pydantic import Field
from restate import TerminalError

from patterns.chaos import FailurePoint, delay
from patterns.wire import CamelModel

logger = restate.getLogger(__name__)

TERMINAL = FailurePoint("sagas.payment.terminal", probability=0.5)
RETRYABLE = FailurePoint("sagas.payment.retryable", probability=0.8)


class PaymentInfo(CamelModel):
    card_number: str
    amount: int = Field(gt=0)  # cents


async def charge(payment_info: PaymentInfo, payment_id: str, attempt_key: str) -> None:
    """Charge the card once per payment id (the provider deduplicates by it). `attempt_key` keys the
    failure injection (the invocation id, so `first:N` counts the attempts of one booking)."""
    await asyncio.sleep(delay("sagas.payment", timedelta(0)).total_seconds())  # the provider's latency
    if TERMINAL.should_fail(attempt_key):
        logger.error("[👻 SIMULATED] This payment should never be accepted! Aborting booking.")
        raise TerminalError("[👻 SIMULATED] This payment could not be accepted!")
    if RETRYABLE.should_fail(attempt_key):
        logger.error("[👻 SIMULATED] A payment failure happened! Will retry...")
        raise RuntimeError("[👻 SIMULATED] A payment failure happened! Will retry...")
    logger.info("Payment %s processed", payment_id)


async def refund(payment_id: str) -> None:
    """Refund the payment with this id if it went through; nothing otherwise (idempotent)."""
    logger.info("Payment %s refunded", payment_id)
