"""Simulated cloud calls: a bucket, an upload, an email. They only log (and take their time).

As upstream, half of the uploads are slow (10 s instead of 1.5 s): the client then stops waiting and asks
for the URL by email.
"""

import asyncio
import uuid
from datetime import timedelta

import restate

from patterns.chaos import Chance, Duration

logger = restate.getLogger(__name__)

UPLOAD_IS_SLOW = Chance("dataupload.slow_upload", probability=0.5)
SLOW_UPLOAD_TIME = Duration("dataupload.slow_upload", timedelta(seconds=10))
FAST_UPLOAD_TIME = Duration("dataupload.fast_upload", timedelta(seconds=1.5))


async def create_s3_bucket() -> str:
    url = f"https://s3-eu-central-1.amazonaws.com/{uuid.uuid4()}/"
    logger.info(" >>> Creating bucket with URL %s", url)
    return url


async def upload_data(target: str) -> None:
    duration = SLOW_UPLOAD_TIME.get() if UPLOAD_IS_SLOW.happens("upload") else FAST_UPLOAD_TIME.get()
    logger.info(" >>> Uploading data to target %s. ETA: %dms", target, duration.total_seconds() * 1000)
    await asyncio.sleep(duration.total_seconds())


async def send_email(email: str, url: str) -> None:
    logger.info(" >>> Sending email to '%s' with URL %s", email, url)
