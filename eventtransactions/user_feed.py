"""The user feed: a virtual object keyed by user id, fed by the `social-media-posts` Kafka topic."""

from datetime import timedelta
from typing import Any

import restate
from pydantic import ValidationError
from restate import ObjectContext, TerminalError, VirtualObject

from eventtransactions.stubs import create_post, get_post_status, update_user_feed
from patterns.chaos import delay
from patterns.wire import CamelModel

logger = restate.getLogger(__name__)


class SocialMediaPost(CamelModel):
    content: str
    metadata: str


user_feed = VirtualObject("userFeed")


# The subscription calls this handler once per Kafka record, with the record key as object key. Restate
# runs the invocations of one key one after the other, in offset order: a queue per user.
@user_feed.handler("processPost")
async def process_post(ctx: ObjectContext, post: dict[str, Any]) -> None:
    try:
        # Validated here, not by the SDK, so that a malformed post gets a 400 (and is skipped on Kafka).
        request = SocialMediaPost.model_validate(post)
    except ValidationError as error:
        raise TerminalError(f"Invalid post: {error}", status_code=400) from None
    user_id = ctx.key()

    # Durable side effect: after a crash the handler fast-forwards to here with the same post id.
    post_id = await ctx.run_typed("create post", create_post, user_id=user_id, content=request.content)

    # Poll the moderation service. The sleep is durable: the invocation suspends, other users go on,
    # and a restart of the service or of Restate continues the wait where it was.
    while await ctx.run_typed("post status", get_post_status, post_id=post_id) == "PENDING":
        await ctx.sleep(delay("eventtransactions.moderation-poll", timedelta(seconds=5)))

    await ctx.run_typed("update feed", update_user_feed, user_id=user_id, post_id=post_id)
