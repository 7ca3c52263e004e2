"""The user feed: a virtual object keyed by user id, fed by the `social-media-posts` Kafka topic."""

import restate
from pydantic import Field
from restate import ObjectContext, VirtualObject

from eventtransactions.stubs import MODERATION_POLL_INTERVAL, create_post, get_post_status, update_user_feed
from patterns.wire import CamelModel, bad_input_is_400

logger = restate.getLogger(__name__)


class SocialMediaPost(CamelModel):
    content: str = Field(examples=["Hi! This is my first post!"])
    metadata: str = Field(examples=["public"])


# A malformed post gets a 400 (through Kafka, the record is skipped and the next one processed).
user_feed = VirtualObject("userFeed", invocation_context_managers=[bad_input_is_400])


# The subscription calls this handler once per Kafka record, with the record key as object key. Restate
# runs the invocations of one key one after the other, in offset order: a queue per user.
@user_feed.handler("processPost")
async def process_post(ctx: ObjectContext, post: SocialMediaPost) -> None:
    user_id = ctx.key()

    # Durable side effect: after a crash the handler fast-forwards to here with the same post id.
    post_id = await ctx.run_typed("create post", create_post, user_id=user_id, content=post.content)

    # Poll the moderation service. The sleep is durable: the invocation suspends, other users go on,
    # and a restart of the service or of Restate continues the wait where it was.
    while await ctx.run_typed("post status", get_post_status, post_id=post_id) == "PENDING":
        await ctx.sleep(MODERATION_POLL_INTERVAL.get())

    await ctx.run_typed("update feed", update_user_feed, user_id=user_id, post_id=post_id)
