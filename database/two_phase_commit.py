"""The `twoPhaseCommit` service: exactly-once updates through PostgreSQL's prepared transactions.

    "generate transaction id"      a UUID, in the journal: every attempt of the invocation gets the same one
            │
    "run and prepare txn"          ROLLBACK PREPARED <id>, if an earlier attempt left it (42704: none left)
            │                      BEGIN; the update; PREPARE TRANSACTION <id>   → the journal keeps its xid
            │
    "commit prepared transaction"  COMMIT PREPARED <id>; 42704 (none any more) on a retry: pg_xact_status(xid)
                                   says whether an earlier try committed it (done) or it was rolled back
                                   (then the loop runs the update again under a new id)

Two-phase commit here splits one database transaction in two so that Restate runs it once: the update is
done and made durable (prepared) in one step, and committed in the next, which a retry can repeat safely.
It needs `max_prepared_transactions` > 0 in PostgreSQL. A prepared transaction keeps its row locks until it
is committed or rolled back: the steps above always finish or clean up what an attempt left behind.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import psycopg
import restate
from psycopg import AsyncConnection, sql
from restate import Context, Service

from database.utils import (
    AFTER_PREPARE,
    AFTER_WRITE,
    PREPARED_PAUSE,
    CreditsUpdate,
    connection,
    ending_connection,
    fail_after_write,
    fetch_value,
    no_such_user,
)
from patterns.wire import bad_input_is_400

logger = restate.getLogger(__name__)

two_phase_commit = Service("twoPhaseCommit", invocation_context_managers=[bad_input_is_400])


@two_phase_commit.handler()
async def update(ctx: Context, update: CreditsUpdate) -> None:
    """Add credits to a user, exactly once, without an idempotency key or a version."""

    async def add_credits(conn: AsyncConnection) -> None:
        cursor = await conn.execute(
            "UPDATE users SET credits = credits + %s WHERE userid = %s", [update.add_credits, update.user_id]
        )
        if cursor.rowcount != 1:
            raise no_such_user(update.user_id)

    await run_as_2pc_transaction(ctx, add_credits)


Action = Callable[[AsyncConnection], Awaitable[None]]


async def run_as_2pc_transaction(ctx: Context, action: Action) -> None:
    """Run `action`'s queries (on the connection it gets) as one transaction, committed exactly once."""
    attempt = ctx.request().id  # for the injected failures
    while True:
        txn_id = await ctx.run_typed("generate transaction id", new_transaction_id)
        xid = await ctx.run_typed("run and prepare txn", prepare, txn_id=txn_id, action=action, attempt=attempt)
        if await ctx.run_typed("commit prepared transaction", commit_prepared, txn_id=txn_id, xid=xid, attempt=attempt):
            return
        logger.warning("Transaction %s was rolled back before its commit: running it again", txn_id)


def new_transaction_id() -> str:
    return str(uuid.uuid4())


async def prepare(txn_id: str, action: Action, attempt: str) -> str:
    """The transaction, up to PREPARE TRANSACTION: from then on it survives disconnects and crashes, and only
    COMMIT PREPARED or ROLLBACK PREPARED ends it. Returns its transaction id (xid), for the commit step."""
    # An earlier try of this step may have prepared this id and failed before the journal recorded the step:
    # roll it back, so that its locks go and its update is not made twice.
    async with ending_connection() as conn:
        if await rollback_prepared(conn, txn_id):
            logger.info("Rolled back transaction %s, prepared by an earlier attempt", txn_id)
    async with connection() as conn:
        await conn.execute("BEGIN")
        try:
            await action(conn)
            xid: str = await fetch_value(conn, "SELECT pg_current_xact_id()::text")
            # No bind parameters in PREPARE TRANSACTION: psycopg quotes the id as a literal.
            await conn.execute(sql.SQL("PREPARE TRANSACTION {}").format(sql.Literal(txn_id)))
        except Exception:
            await conn.rollback()
            raise
    await asyncio.sleep(PREPARED_PAUSE.get().total_seconds())
    fail_after_write(AFTER_PREPARE, attempt, "PREPARE TRANSACTION")
    return xid


async def commit_prepared(txn_id: str, xid: str, attempt: str) -> bool:
    """COMMIT PREPARED, which is not idempotent: a retry finds no transaction (42704) if a try before it
    committed. True once committed; False if the transaction was rolled back instead (run it again)."""
    async with ending_connection() as conn:
        try:
            await conn.execute(sql.SQL("COMMIT PREPARED {}").format(sql.Literal(txn_id)))
        except psycopg.errors.UndefinedObject:
            status = await fetch_value(conn, "SELECT pg_xact_status(%s::xid8)", [xid])
            if status == "aborted":
                return False
            if status != "committed":
                raise RuntimeError(
                    f"transaction {txn_id} (xid {xid}) is {status}, neither prepared nor ended"
                ) from None
            logger.info("Transaction %s was committed by an earlier attempt", txn_id)
    fail_after_write(AFTER_WRITE, attempt, "COMMIT PREPARED")
    return True


async def rollback_prepared(conn: AsyncConnection, txn_id: str) -> bool:
    try:
        await conn.execute(sql.SQL("ROLLBACK PREPARED {}").format(sql.Literal(txn_id)))
        return True
    except psycopg.errors.UndefinedObject:  # 42704: no prepared transaction with this id
        return False
