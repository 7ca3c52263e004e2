"""Run an operation through a priority queue, from inside a handler: `Queue.from_context(ctx, name).run(...)`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from restate import Context, TerminalError

from priorityqueue.queue_service import QueueItem, done, drop, push

T = TypeVar("T")


class Queue:
    def __init__(self, ctx: Context, name: str) -> None:
        self.ctx, self.name = ctx, name

    @staticmethod
    def from_context(ctx: Context, name: str) -> Queue:
        return Queue(ctx, name)

    async def run(self, priority: int, op: Callable[[], Awaitable[T]]) -> T:
        # An admission ticket: the queue resolves it when it is our turn.
        awakeable_id, ticket = self.ctx.awakeable(type_hint=type(None))
        self.ctx.object_send(push, key=self.name, arg=QueueItem(awakeable=awakeable_id, priority=priority))
        try:
            await ticket
        except TerminalError:
            # Cancelled while waiting: take our item out of the queue, so it never takes a slot.
            self.ctx.object_send(drop, key=self.name, arg=awakeable_id)
            raise

        try:
            result = await op()
        except TerminalError:
            self.ctx.object_send(done, key=self.name, arg=awakeable_id)
            raise
        # (A retryable error retries the op: the slot stays ours meanwhile.)
        self.ctx.object_send(done, key=self.name, arg=awakeable_id)
        return result
