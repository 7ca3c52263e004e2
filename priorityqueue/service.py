"""`myService.expensiveMethod`: an expensive operation, at most 10 at a time, admitted by priority."""

from __future__ import annotations

from typing import Annotated

import restate
from pydantic import Field, StrictFloat, StrictInt
from restate import Context, Service

from patterns.wire import CamelModel, bad_input_is_400
from priorityqueue.queue_client import Queue
from priorityqueue.stubs import expensive_operation

logger = restate.getLogger(__name__)

# Plain numbers: bounded, so that the sum is a finite JSON number too.
Number = Annotated[StrictInt | StrictFloat, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]


class ExpensiveRequest(CamelModel):
    left: Number
    right: Number
    priority: int = Field(default=1, ge=-1_000_000, le=1_000_000, description="lower numbers are admitted first")


my_service = Service("myService", invocation_context_managers=[bad_input_is_400])


@my_service.handler("expensiveMethod")
async def expensive_method(ctx: Context, request: ExpensiveRequest) -> int | float:
    queue = Queue.from_context(ctx, "myService/expensiveMethod")

    async def op() -> int | float:
        return await ctx.run_typed("expensive operation", expensive_operation, left=request.left, right=request.right)

    return await queue.run(request.priority, op)
