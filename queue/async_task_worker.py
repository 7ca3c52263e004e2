"""The async task worker: Restate invokes `runTask` once for every task in its queue."""

import asyncio
from datetime import timedelta

import restate
from restate import Context, Service

from patterns.chaos import delay
from patterns.wire import CamelModel, bad_input_is_400

logger = restate.getLogger(__name__)


class TaskOpts(CamelModel):
    id: str
    task: str = "some heavy work"


# bad_input_is_400: a task that is not {"id": ..., "task": ...} fails with 400 (restate-sdk says 500).
async_task_worker = Service("asyncTaskWorker", invocation_context_managers=[bad_input_is_400])


@async_task_worker.handler("runTask")
async def run_task(ctx: Context, params: TaskOpts) -> str:
    return await ctx.run_typed("heavy work", some_heavy_work, params=params)


async def some_heavy_work(params: TaskOpts) -> str:
    # Runs inside ctx.run: once it has succeeded, Restate keeps the result and never runs it again.
    logger.info("Working on task %s: %s", params.id, params.task)
    await asyncio.sleep(delay("queue.work", timedelta(seconds=5)).total_seconds())
    logger.info("Finished work on task %s", params.id)
    return f"Finished work on task: {params.id}"
