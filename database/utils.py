"""The database connection (psycopg 3, from DATABASE_URL), row and input helpers, and the pattern's knobs."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, LiteralString, TypeVar

import psycopg
import restate
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import Field, Strict
from restate import TerminalError

from patterns.chaos import Duration, FailurePoint
from patterns.settings import settings
from patterns.wire import CamelModel

logger = restate.getLogger(__name__)
T = TypeVar("T")

# -- knobs: upstream never fails on purpose; the tests do, right after the database work ------------------------
AFTER_WRITE = FailurePoint("database.after-write", probability=0)  # a credits update, after its write
AFTER_PREPARE = FailurePoint("database.after-prepare", probability=0)  # two-phase commit, between PREPARE and COMMIT
# How long a prepared transaction waits before its step returns: the window in which the tests kill the
# service or restate-server (0 by default).
PREPARED_PAUSE = Duration("database.prepared-pause", timedelta(0))
IDEMPOTENCY_KEY_EXPIRY = Duration("database.idempotency-key-expiry", timedelta(days=1))  # as upstream


def fail_after_write(point: FailurePoint, key: str, what: str) -> None:
    """The injected failure: the database work is done (committed or prepared), then the attempt fails."""
    if point.should_fail(key):
        logger.error("[👻 SIMULATED] A failure right after %s! Restate retries.", what)
        raise RuntimeError(f"[👻 SIMULATED] A failure right after {what}!")


# -- connections ---------------------------------------------------------------------------------------------
# Pools per event loop (a test process serves apps on several loops), database and use.
_pools: dict[tuple[asyncio.AbstractEventLoop, str, str], AsyncConnectionPool] = {}


@asynccontextmanager
async def connection(pool: str = "queries") -> AsyncIterator[AsyncConnection]:
    """A connection of this process's pool, in autocommit mode (transactions are explicit)."""
    key = (asyncio.get_running_loop(), settings().database_url, pool)
    if key not in _pools:
        _pools[key] = AsyncConnectionPool(key[1], min_size=1, max_size=10, open=False, kwargs={"autocommit": True})
    await _pools[key].open()
    async with invalid_data_is_400(), _pools[key].connection() as conn:
        yield conn


def ending_connection() -> AbstractAsyncContextManager[AsyncConnection]:
    """A connection for COMMIT PREPARED / ROLLBACK PREPARED, from a pool of their own: the queries' pool may be
    all taken by queries that wait for the very row locks these statements release."""
    return connection("ending prepared transactions")


@asynccontextmanager
async def invalid_data_is_400() -> AsyncIterator[None]:
    """Data the database cannot take (a NUL character, a string too long...) is the caller's error: retrying
    it would fail for ever."""
    try:
        yield
    except psycopg.DataError as error:
        raise TerminalError(f"Invalid data: {error}", status_code=400) from None


async def serializable(work: Callable[[AsyncConnection], Awaitable[T]], tries: int = 20) -> T:
    """Run `work` in one SERIALIZABLE transaction; a serialization failure (another transaction changed the
    same rows first) rolls it back and runs it again, as PostgreSQL asks of serializable transactions."""
    attempt = 1
    while True:
        try:
            async with connection() as conn, conn.transaction():
                await conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                return await work(conn)
        except psycopg.errors.SerializationFailure:
            if attempt == tries:
                raise  # Restate retries the invocation
            await asyncio.sleep(random.uniform(0, 0.01 * attempt))
            attempt += 1


# -- rows and input --------------------------------------------------------------------------------------------
async def select_user(conn: AsyncConnection, user_id: str) -> dict[str, Any] | None:
    """The user's row, as upstream's `SELECT *` shows it (numbers as JSON numbers)."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute("SELECT userid, name, address, credits, version FROM users WHERE userid = %s", [user_id])
    row = await cursor.fetchone()
    if row is None:
        return None
    return {**row, "credits": number(row["credits"]), "version": number(row["version"])}


async def fetch_value(conn: AsyncConnection, query: LiteralString, params: Sequence[object] = ()) -> Any:
    """The first column of the first row (None without rows)."""
    row = await (await conn.execute(query, params)).fetchone()
    return None if row is None else row[0]


def number(value: Decimal) -> int | float:
    """A `numeric` column as a JSON number."""
    return int(value) if value == value.to_integral_value() else float(value)


UserId = Annotated[str, Strict(), Field(min_length=1, max_length=255)]  # (a bare JSON string as input)
Credits = Annotated[int, Strict()]  # a whole number of credits; negative numbers take credits away


class User(CamelModel):
    user_id: str = Field(min_length=1, max_length=255)
    name: str = Field(max_length=255)
    address: str = Field(max_length=255)
    credits: int = Field(strict=True)


class CreditsUpdate(CamelModel):
    user_id: str = Field(min_length=1, max_length=255)
    add_credits: int = Field(strict=True)


def no_such_user(user_id: str) -> TerminalError:
    return TerminalError(f"No user with userid = {user_id!r}", status_code=404)
