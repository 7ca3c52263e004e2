"""The `keyed` virtual object (key = user id): one writer per row, and updates that a retry cannot repeat."""

from decimal import Decimal

import restate
from restate import ObjectContext, ObjectSharedContext, VirtualObject

from database.utils import AFTER_WRITE, Credits, connection, fail_after_write, no_such_user, select_user
from patterns.wire import CamelModel, NoInput, bad_input_is_400

logger = restate.getLogger(__name__)

# The object key is the row's primary key: Restate runs one exclusive handler per user id at a time, so
# updates of a row never contend in the database.
keyed = VirtualObject("keyed", invocation_context_managers=[bad_input_is_400])


class CreditsAndVersion(CamelModel):
    credits: Decimal
    version: Decimal


@keyed.handler()
async def update(ctx: ObjectContext, credits: Credits) -> None:
    """Add credits, with no effort against a repeated update: if the attempt fails after the UPDATE and before
    Restate records the handler's end, the retry adds them again (at least once). The window is small, and no
    other writer of the row can interfere (single writer per key), but it is there."""
    async with connection() as conn:
        cursor = await conn.execute("UPDATE users SET credits = credits + %s WHERE userid = %s", [credits, ctx.key()])
    if cursor.rowcount != 1:
        raise no_such_user(ctx.key())
    fail_after_write(AFTER_WRITE, ctx.request().id, "the update")


@keyed.handler("updateConditional")
async def update_conditional(ctx: ObjectContext, add_credits: Credits) -> None:
    """Add credits exactly once, with the row's version as a semantic lock: read (credits, version) in a
    durable step, then update only if the version is still the one read."""
    # The read goes through the journal: every attempt of this invocation works from the same version.
    current = await ctx.run_typed("read credits, version", read_credits_and_version, user_id=ctx.key())

    # A version that moved on means an earlier attempt of this same invocation already made the update and
    # failed before finishing (no one else writes this row: exclusive handlers of one key run one at a time).
    async with connection() as conn:
        cursor = await conn.execute(
            "UPDATE users SET credits = %s, version = %s WHERE userid = %s AND version = %s",
            [current.credits + add_credits, current.version + 1, ctx.key(), current.version],
        )
    if cursor.rowcount != 1:
        logger.info("Update was not applied - version no longer matches.")
    fail_after_write(AFTER_WRITE, ctx.request().id, "the conditional update")


async def read_credits_and_version(user_id: str) -> CreditsAndVersion:
    async with connection() as conn:
        cursor = await conn.execute("SELECT credits, version FROM users WHERE userid = %s", [user_id])
        rows = await cursor.fetchall()
    if len(rows) != 1:
        raise no_such_user(user_id)  # a TerminalError: the step, and the invocation, fail for good
    credits, version = rows[0]
    return CreditsAndVersion(credits=credits, version=version)


@keyed.handler(kind="shared")
async def read(ctx: ObjectSharedContext, _: NoInput) -> dict[str, object] | str:
    """A shared handler: reads do not queue behind the writes of this key, and run concurrently."""
    async with connection() as conn:
        row = await select_user(conn, ctx.key())
    return row if row is not None else "(row not found)"
