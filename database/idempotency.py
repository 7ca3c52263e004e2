"""The `idempotency` service: an idempotency key per update, stored in the same transaction as the update."""

import restate
from psycopg import AsyncConnection
from restate import Context, Service

from database.utils import (
    AFTER_WRITE,
    IDEMPOTENCY_KEY_EXPIRY,
    CreditsUpdate,
    connection,
    fail_after_write,
    no_such_user,
    serializable,
)
from patterns.wire import bad_input_is_400

logger = restate.getLogger(__name__)

idempotency = Service("idempotency", invocation_context_managers=[bad_input_is_400])


@idempotency.handler()
async def update(ctx: Context, update: CreditsUpdate) -> None:
    """Add credits to a user, idempotently within a day."""
    # A durable, deterministic key: Restate's random generator gives every attempt of this invocation the
    # same one, without a journal entry of its own.
    idempotency_key = str(ctx.uuid())

    # Forget the key after a day: a delayed call to the handler that deletes it.
    ctx.service_send(expire_idempotency_key, arg=idempotency_key, send_delay=IDEMPOTENCY_KEY_EXPIRY.get())

    async def add_credits_once(conn: AsyncConnection) -> None:
        # The key goes in first: the primary key refuses it if an earlier attempt committed already.
        cursor = await conn.execute(
            "INSERT INTO user_idempotency (id) VALUES (%s) ON CONFLICT (id) DO NOTHING", [idempotency_key]
        )
        if cursor.rowcount != 1:
            logger.info("Idempotency key %s was used before: the credits were added already", idempotency_key)
            return
        cursor = await conn.execute(
            "UPDATE users SET credits = credits + %s WHERE userid = %s", [update.add_credits, update.user_id]
        )
        if cursor.rowcount != 1:
            raise no_such_user(update.user_id)  # rolls back, the key too

    # Key and update commit together, or not at all.
    await serializable(add_credits_once)
    fail_after_write(AFTER_WRITE, ctx.request().id, "the committed update")


@idempotency.handler("expireIdempotencyKey", ingress_private=True)
async def expire_idempotency_key(ctx: Context, key: str) -> None:
    """Delete the key, a day after the update (called by `update` only)."""
    async with connection() as conn:
        await conn.execute("DELETE FROM user_idempotency WHERE id = %s", [key])
