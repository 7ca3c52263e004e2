"""Stand-ins for the downstream systems: the social media database and the content moderation service."""

import uuid

import restate

from patterns.chaos import FailurePoint

logger = restate.getLogger(__name__)

# Content moderation answers PENDING 80 % of the time, as upstream. Tests make it deterministic:
# PATTERNS_FAILURES_EVENTTRANSACTIONS_MODERATION_PENDING=first:3 -> 3 times PENDING per post, then DONE.
MODERATION_PENDING = FailurePoint("eventtransactions.moderation-pending", probability=0.8)


async def create_post(user_id: str, content: str) -> str:
    post_id = str(uuid.uuid4())
    logger.info("Created post %s for user %s with content: %s", post_id, user_id, content)
    return post_id


async def get_post_status(post_id: str) -> str:
    if MODERATION_PENDING.should_fail(post_id):
        logger.info("Content moderation for post %s is still pending... Will check again in 5 seconds", post_id)
        return "PENDING"
    logger.info("Content moderation for post %s is done", post_id)
    return "DONE"


async def update_user_feed(user_id: str, post_id: str) -> None:
    logger.info("Updating the user feed for user %s with post %s", user_id, post_id)
