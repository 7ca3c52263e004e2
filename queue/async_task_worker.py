"""The async task worker: Restate invokes `runTask` once for every task in its queue."""

from restate import Context, Service

from patterns.wire import CamelModel, bad_input_is_400

from .stubs import some_heavy_work


class TaskOpts(CamelModel):
    id: str
    task: str = "some heavy work"


async_task_worker = Service("asyncTaskWorker", invocation_context_managers=[bad_input_is_400])


@async_task_worker.handler("runTask")
async def run_task(ctx: Context, params: TaskOpts) -> str:
    # Runs inside ctx.run: once it has succeeded, Restate keeps the result and never runs it again.
    return await ctx.run_typed("heavy work", some_heavy_work, task_id=params.id, task=params.task)
