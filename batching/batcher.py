"""The `batcher` object groups items into batches for the `batchReceiver` object (one of each per key)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import restate
from pydantic import Field, JsonValue, RootModel
from restate import ObjectContext, TerminalError, VirtualObject

from batching.utils import MAX_BATCH, MAX_BATCH_WAIT
from patterns.wire import CamelModel, NoInput, bad_input_is_400

logger = restate.getLogger(__name__)


class Item(RootModel[Any]):
    """One item: any JSON value."""

    root: Any = Field(examples=[123])


class Batch(CamelModel):
    items: list[JsonValue] = Field(min_length=1, examples=[[123, 456]])  # never an empty batch


batcher = VirtualObject("batcher", invocation_context_managers=[bad_input_is_400])


@batcher.handler()
async def receive(ctx: ObjectContext, item: Item) -> None:
    """Add one item (any JSON value) to the batch of this key."""
    if item is None or item.root is None:  # (an empty body, or JSON null)
        raise TerminalError("An item is required: any JSON value but null.", status_code=400)
    expire_invocation_id = await ctx.get("expireInvocationId", type_hint=str)
    items: list[Any] = await ctx.get("items", type_hint=list) or []
    items.append(item.root)

    if len(items) >= MAX_BATCH:
        logger.info("Sending batch as it reached %d items", MAX_BATCH)
        send_batch(ctx, expire_invocation_id, items)
        return

    if len(items) == 1:
        wait = MAX_BATCH_WAIT.get()
        logger.info("Adding item to new batch, will send in at most %s", readable(wait))
        # A durable timer: a delayed call to our own `expire`. Restate keeps it through crashes.
        expiration = ctx.object_send(expire, key=ctx.key(), arg=None, send_delay=wait)
        # Keep its invocation id, to cancel it if the batch fills up first: most batches then never
        # run an `expire` at all. (Waiting for the id may suspend the invocation for a moment.)
        ctx.set("expireInvocationId", await expiration.invocation_id())
    else:
        logger.info("Adding item to batch")

    ctx.set("items", items)


@batcher.handler(ingress_private=True)
async def expire(ctx: ObjectContext, _: NoInput) -> None:
    """The timer of the current batch fired: send it undersized (internal, not reachable from the ingress)."""
    items: list[Any] = await ctx.get("items", type_hint=list) or []
    if not items:  # (the batch has gone out already: nothing to send, and never an empty batch)
        logger.info("The timer fired, but there is no batch to send")
        return
    logger.info("Sending batch with %d items as the timer fired", len(items))
    send_batch(ctx, None, items)


def send_batch(ctx: ObjectContext, expire_invocation_id: str | None, items: list[Any]) -> None:
    if expire_invocation_id:
        ctx.cancel_invocation(expire_invocation_id)  # the batch is full: its timer must not fire
    ctx.clear("expireInvocationId")
    ctx.clear("items")
    ctx.object_send(receive_batch, key=ctx.key(), arg=Batch(items=items))


batch_receiver = VirtualObject("batchReceiver", invocation_context_managers=[bad_input_is_400])


@batch_receiver.handler("receive")
async def receive_batch(ctx: ObjectContext, batch: Batch) -> None:
    """The batches' real destination. Here it logs each batch and keeps it in its state (`batches`)."""
    logger.info("Received batch: %s", batch.items)
    batches: list[list[Any]] = await ctx.get("batches", type_hint=list) or []
    ctx.set("batches", [*batches, batch.items])


def readable(duration: timedelta) -> str:
    seconds = duration.total_seconds()
    return f"{seconds:g}s" if seconds >= 1 else f"{seconds * 1000:g}ms"
