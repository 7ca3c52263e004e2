"""A simulated payment provider (the TypeScript example's payment client), called inside `ctx.run_typed`.

As upstream, the charge fails on purpose: half of the payments are rejected for good (a terminal error: the
booking's compensations run), and 80 % of the remaining attempts fail transiently (Restate retries them).
"""

import asyncio
from datetime import timedelta

import restate
from pydantic import Field
from restate import TerminalError

from patterns.chaos import Duration, FailurePoint
from patterns.wire import CamelModel

logger = restate.getLogger(__name__)

PAYMENT_IS_REJECTED = FailurePoint("sagas.payment.terminal", probability=0.5)
PAYMENT_FAILS = FailurePoint("sagas.payment.retryable", probability=0.8)
PAYMENT_TIME = Duration("sagas.payment", timedelta(0))  # the provider's latency


class PaymentInfo(CamelModel):
    card_number: str = Field(examples=["4111111111111111"])
    amount: int = Field(gt=0, examples=[1500])  # cents


async def charge(payment_info: PaymentInfo, payment_id: str, attempt_key: str) -> None:
    """Charge the card once per payment id (the provider deduplicates by it). `attempt_key` keys the
    failure injection (the invocation id, so `first:N` counts the attempts of one booking)."""
    await asyncio.sleep(PAYMENT_TIME.get().total_seconds())
    if PAYMENT_IS_REJECTED.should_fail(attempt_key):
        logger.error("[👻 SIMULATED] This payment should never be accepted! Aborting booking.")
        raise TerminalError("[👻 SIMULATED] This payment could not be accepted!")
    if PAYMENT_FAILS.should_fail(attempt_key):
        logger.error("[👻 SIMULATED] A payment failure happened! Will retry...")
        raise RuntimeError("[👻 SIMULATED] A payment failure happened! Will retry...")
    logger.info("Payment %s processed", payment_id)


async def refund(payment_id: str) -> None:
    """Refund the payment with this id if it went through; nothing otherwise (idempotent)."""
    logger.info("Payment %s refunded", payment_id)
