"""The tracker's messages to the outside world (they only log), and the reminder interval (a day, as upstream)."""

from datetime import timedelta

import restate

from patterns.chaos import Duration

logger = restate.getLogger(__name__)

REMINDER_INTERVAL = Duration("schedulingtasks.reminder", timedelta(days=1))


async def send_reminder_email(invoice_id: str) -> None:
    logger.info("Sending reminder email for event: %s", invoice_id)


async def escalate_to_human(invoice_id: str) -> None:
    logger.info("Escalating to %s invoice to support team", invoice_id)
