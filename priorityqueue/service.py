"""`myService.expensiveMethod`: an expensive operation, at most 10 at a time, admitted by priority."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import restate
from pydantic import Field
from restate import Context, Service

from patterns.chaos import delay
from patterns.wire import CamelModel, bad_input_is_400
from priorityqueue.queue_client import Queue

logger = restate.getLogger(__name__)


class ExpensiveRequest(CamelModel):
    left: int | float
    right: int | float
    priority: int = Field(default=1, description="lower numbers are admitted first")


my_service = Service("myService", invocation_context_managers=[bad_input_is_400])


@my_service.handler("expensiveMethod")
async def expensive_method(ctx: Context, request: ExpensiveRequest) -> int | float:
    queue = Queue.from_context(ctx, "myService/expensiveMethod")

    async def op() -> int | float:
        return await ctx.run_typed("expensive operation", expensive_operation, left=request.left, right=request.right)

    return await queue.run(request.priority, op)


async def expensive_operation(left: int | float, right: int | float) -> int | float:
    # Simulate a slow call (5 s upstream; PATTERNS_DURATION_PRIORITYQUEUE_OPERATION=1s or PATTERNS_TIME_SCALE).
    await asyncio.sleep(delay("priorityqueue.operation", timedelta(seconds=5)).total_seconds())
    return left + right
