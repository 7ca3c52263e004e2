"""The `queue` virtual object: admission by priority, at most MAX_IN_FLIGHT at a time.

Callers wait on an awakeable (their admission ticket); the queue resolves tickets by priority whenever a
slot is free. One object per queue name; its exclusive handlers make it the single writer of the queue.
"""

from __future__ import annotations

import restate
from restate import ObjectContext, VirtualObject

from patterns.wire import CamelModel, bad_input_is_400

logger = restate.getLogger(__name__)

MAX_IN_FLIGHT = 10


class QueueItem(CamelModel):
    awakeable: str
    priority: int


queue = VirtualObject("queue", invocation_context_managers=[bad_input_is_400])


@queue.handler()
async def push(ctx: ObjectContext, item: QueueItem) -> None:
    items, in_flight = await load(ctx)
    items.append(item)
    tick(ctx, items, in_flight)


@queue.handler()
async def done(ctx: ObjectContext) -> None:
    items, in_flight = await load(ctx)
    tick(ctx, items, max(in_flight - 1, 0))


@queue.handler()
async def drop(ctx: ObjectContext, awakeable_id: str) -> None:
    """A caller gave up (cancelled): forget its ticket, or free its slot if it was already admitted."""
    items, in_flight = await load(ctx)
    remaining = [item for item in items if item.awakeable != awakeable_id]
    if len(remaining) == len(items):
        in_flight = max(in_flight - 1, 0)  # already admitted: treat as done
    tick(ctx, remaining, in_flight)


async def load(ctx: ObjectContext) -> tuple[list[QueueItem], int]:
    items = await ctx.get("items", type_hint=list[dict]) or []
    return [QueueItem.model_validate(item) for item in items], await ctx.get("inFlight", type_hint=int) or 0


def select_and_pop_item(items: list[QueueItem]) -> QueueItem:
    """The customization point: lowest priority number first, first come first served among equals."""
    best = min(range(len(items)), key=lambda i: items[i].priority)  # min keeps the first among equals
    return items.pop(best)


def tick(ctx: ObjectContext, items: list[QueueItem], in_flight: int) -> None:
    while in_flight < MAX_IN_FLIGHT and items:
        item = select_and_pop_item(items)
        in_flight += 1
        ctx.resolve_awakeable(item.awakeable, None)
    logger.info("Tick end. Queue length: %d, In Flight: %d", len(items), in_flight)
    ctx.set("items", [item.model_dump() for item in items])
    ctx.set("inFlight", in_flight)
