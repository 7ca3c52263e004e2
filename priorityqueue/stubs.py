"""The expensive operation the queue protects: it only adds two numbers, slowly (5 s, as upstream)."""

import asyncio
from datetime import timedelta

from patterns.chaos import Duration

OPERATION_TIME = Duration("priorityqueue.operation", timedelta(seconds=5))


async def expensive_operation(left: int | float, right: int | float) -> int | float:
    await asyncio.sleep(OPERATION_TIME.get().total_seconds())
    return left + right
