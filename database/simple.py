"""The `simple` service: the database accessed as from any other service, without Restate's help."""

import restate
from pydantic import Field
from restate import Context, Service

from database.utils import User, UserId, connection, select_user
from patterns.wire import CamelModel, bad_input_is_400

logger = restate.getLogger(__name__)

simple = Service("simple", invocation_context_managers=[bad_input_is_400])


class NameUpdate(CamelModel):
    user_id: str = Field(min_length=1, max_length=255)
    new_name: str = Field(max_length=255)


@simple.handler()
async def read(ctx: Context, user_id: UserId) -> dict[str, object] | str:
    """A plain read, the same as from any service that does not use Restate."""
    async with connection() as conn:
        row = await select_user(conn, user_id)
    return row if row is not None else "(row not found)"


@simple.handler("durableRead")
async def durable_read(ctx: Context, user_id: UserId) -> int | float | None:
    """A read inside a durable step: its result is in the journal, so retries of this invocation take the
    same branch below, whatever the row holds by then."""
    credits = await ctx.run_typed("read credits", read_credits, user_id=user_id)
    if credits == 0:
        # Conditional work (alerting, a reminder...): a retry follows this branch again, and finishes it.
        logger.info("Found an account without balance, doing something about it...")
    return credits


async def read_credits(user_id: str) -> int | float | None:
    async with connection() as conn:
        row = await select_user(conn, user_id)
    return None if row is None else row["credits"]


@simple.handler()
async def insert(ctx: Context, user: User) -> bool:
    """Insert a row; the primary key keeps a retry from inserting it twice (true: this call inserted it)."""
    async with connection() as conn:
        cursor = await conn.execute(
            "INSERT INTO users (userid, name, address, credits, version) VALUES (%s, %s, %s, %s, 0)"
            " ON CONFLICT (userid) DO NOTHING",
            [user.user_id, user.name, user.address, user.credits],
        )
    return cursor.rowcount == 1


@simple.handler()
async def update(ctx: Context, update: NameUpdate) -> bool:
    """Update a row, relying on the database alone: concurrent updates may overwrite each other, which can be
    fine for a rare kind of update. This is the handler's only step; with more steps after it, wrap it in
    `ctx.run` so that a retry of a later step does not run it again."""
    async with connection() as conn:
        cursor = await conn.execute("UPDATE users SET name = %s WHERE userid = %s", [update.new_name, update.user_id])
    return cursor.rowcount == 1
