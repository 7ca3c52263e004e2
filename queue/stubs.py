"""The heavy work a task stands for: it only logs and takes its time (5 s, as upstream)."""

import asyncio
from datetime import timedelta

import restate

from patterns.chaos import Duration

logger = restate.getLogger(__name__)

WORK_TIME = Duration("queue.work", timedelta(seconds=5))


async def some_heavy_work(task_id: str, task: str) -> str:
    logger.info("Working on task %s: %s", task_id, task)
    await asyncio.sleep(WORK_TIME.get().total_seconds())
    logger.info("Finished work on task %s", task_id)
    return f"Finished work on task: {task_id}"
