"""The worker service: split a task, run the subtasks as separate invocations in parallel, gather the results."""

from __future__ import annotations

import restate
from pydantic import Field
from restate import Context, Service

from parallelizework.stubs import subtask_time
from patterns.wire import CamelModel, bad_input_is_400

logger = restate.getLogger(__name__)


class Task(CamelModel):
    description: str = Field(min_length=1, examples=["get out of bed,shower,make coffee,have breakfast"])


class SubTask(CamelModel):
    description: str


class SubTaskResult(CamelModel):
    description: str


class Result(CamelModel):
    description: str


worker = Service("worker", invocation_context_managers=[bad_input_is_400])


@worker.handler()
async def run(ctx: Context, task: Task) -> Result:
    # Split the task in subtasks (journaled: a retry sees the same split).
    parts = await ctx.run_typed("split task", split, restate.RunOptions(type_hint=list[str]), task=task)
    subtasks = [SubTask(description=part) for part in parts]

    # Fan out: one runSubtask invocation per subtask, all started before we wait for any of them.
    calls = [ctx.service_call(run_subtask, arg=subtask) for subtask in subtasks]
    # Fan in: wait for each in input order (they all run meanwhile). Not `restate.gather`: restate-sdk 1.3
    # re-checks every pending call on each message it receives, so its cost grows with the square of the
    # number of subtasks (bench/README.md: 1000 subtasks).
    results = [await call for call in calls]

    joined = ",".join(result.description for result in results)
    logger.info("Aggregated result: %s", joined)
    return Result(description=joined)


# Only `run` calls it: not reachable through the ingress.
@worker.handler("runSubtask", ingress_private=True)
async def run_subtask(ctx: Context, subtask: SubTask) -> SubTaskResult:
    # Processing logic goes here. Can be moved to a separate service to scale independently.
    logger.info("Started executing subtask: %s", subtask.description)
    await ctx.sleep(subtask_time(ctx.random()))  # deterministic randomness: the same draw on replay
    logger.info("Execution subtask finished: %s", subtask.description)
    return SubTaskResult(description=f"{subtask.description}: DONE")


async def split(task: Task) -> list[str]:
    return task.description.split(",")
