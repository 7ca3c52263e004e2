"""Simulated cloud calls: a bucket, a slow upload, an email. They only log (and take their time)."""

import asyncio
import uuid
from datetime import timedelta

import restate

from patterns.chaos import FailurePoint, delay

logger = restate.getLogger(__name__)

# Upstream: half of the uploads take 1.5 s, the other half 10 s. Tests pin the choice with
# PATTERNS_FAILURES_DATAUPLOAD_SLOW_UPLOAD=0 (always fast), =1 (always slow) or =first:N (the first N uploads
# of the process are slow), and the durations with PATTERNS_DURATION_DATAUPLOAD_FAST_UPLOAD / _SLOW_UPLOAD.
SLOW_UPLOAD = FailurePoint("dataupload.slow_upload", probability=0.5)


async def create_s3_bucket() -> str:
    url = f"https://s3-eu-central-1.amazonaws.com/{uuid.uuid4()}/"
    logger.info(" >>> Creating bucket with URL %s", url)
    return url


async def upload_data(target: str) -> None:
    if SLOW_UPLOAD.should_fail("upload"):
        duration = delay("dataupload.slow_upload", timedelta(seconds=10))
    else:
        duration = delay("dataupload.fast_upload", timedelta(seconds=1.5))
    logger.info(" >>> Uploading data to target %s. ETA: %dms", target, duration.total_seconds() * 1000)
    await asyncio.sleep(duration.total_seconds())


async def send_email(email: str, url: str) -> None:
    logger.info(" >>> Sending email to '%s' with URL %s", email, url)
