"""The `queue` virtual object: admission by priority, at most MAX_IN_FLIGHT at a time.

Callers wait on an awakeable (their admission ticket); the queue resolves tickets by priority whenever a
slot is free, and keeps the admitted tickets until their callers are done. One object per queue name; its
exclusive handlers make it the single writer of the queue.
"""

from __future__ import annotations

import restate
from restate import ObjectContext, VirtualObject

from patterns.wire import AwakeableId, CamelModel, bad_input_is_400

logger = restate.getLogger(__name__)

MAX_IN_FLIGHT = 10


class QueueItem(CamelModel):
    awakeable: AwakeableId
    priority: int


# Only the queue client (queue_client.py, from inside handlers) calls it: not reachable through the
# ingress, where a forged ticket could take a slot or free somebody else's.
queue = VirtualObject("queue", ingress_private=True, invocation_context_managers=[bad_input_is_400])


@queue.handler()
async def push(ctx: ObjectContext, item: QueueItem) -> None:
    items, in_flight = await load(ctx)
    items.append(item)
    tick(ctx, items, in_flight)


@queue.handler()
async def done(ctx: ObjectContext, ticket: AwakeableId) -> None:
    """An admitted caller finished its operation: its slot is free."""
    items, in_flight = await load(ctx)
    tick(ctx, items, [admitted for admitted in in_flight if admitted != ticket])


@queue.handler()
async def drop(ctx: ObjectContext, ticket: AwakeableId) -> None:
    """A caller gave up (cancelled): forget its ticket, or free its slot if it was already admitted."""
    items, in_flight = await load(ctx)
    remaining = [item for item in items if item.awakeable != ticket]
    tick(ctx, remaining, [admitted for admitted in in_flight if admitted != ticket])


async def load(ctx: ObjectContext) -> tuple[list[QueueItem], list[str]]:
    items = await ctx.get("items", type_hint=list[dict]) or []
    return [QueueItem.model_validate(item) for item in items], await ctx.get("inFlight", type_hint=list[str]) or []


def select_and_pop_item(items: list[QueueItem]) -> QueueItem:
    """The customization point: lowest priority number first, first come first served among equals."""
    best = min(range(len(items)), key=lambda i: items[i].priority)  # min keeps the first among equals
    return items.pop(best)


def tick(ctx: ObjectContext, items: list[QueueItem], in_flight: list[str]) -> None:
    while len(in_flight) < MAX_IN_FLIGHT and items:
        item = select_and_pop_item(items)
        in_flight.append(item.awakeable)
        ctx.resolve_awakeable(item.awakeable, None)
    logger.info("Tick end. Queue length: %d, In Flight: %d", len(items), len(in_flight))
    ctx.set("items", [item.model_dump() for item in items])
    ctx.set("inFlight", in_flight)
