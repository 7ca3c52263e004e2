"""Stand-ins for the downstream systems: the social media database and the content moderation service.

As upstream, content moderation is still pending 80 % of the times it is asked, and the feed asks again
after 5 seconds.
"""

import uuid
from datetime import timedelta

import restate

from patterns.chaos import Chance, Duration

logger = restate.getLogger(__name__)

MODERATION_IS_PENDING = Chance("eventtransactions.moderation-pending", probability=0.8)
MODERATION_POLL_INTERVAL = Duration("eventtransactions.moderation-poll", timedelta(seconds=5))


async def create_post(user_id: str, content: str) -> str:
    post_id = str(uuid.uuid4())
    logger.info("Created post %s for user %s with content: %s", post_id, user_id, content)
    return post_id


async def get_post_status(post_id: str) -> str:
    if MODERATION_IS_PENDING.happens(post_id):
        logger.info("Content moderation for post %s is still pending... Will check again in 5 seconds", post_id)
        return "PENDING"
    logger.info("Content moderation for post %s is done", post_id)
    return "DONE"


async def update_user_feed(user_id: str, post_id: str) -> None:
    logger.info("Updating the user feed for user %s with post %s", user_id, post_id)
