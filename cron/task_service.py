"""`TaskService/executeTask`: a task for the cron jobs to run. It only logs its payload."""

import restate
from restate import Context, Service

from patterns.wire import bad_input_is_400

logger = restate.getLogger(__name__)

task_service = Service("TaskService", invocation_context_managers=[bad_input_is_400])


@task_service.handler("executeTask")
async def execute_task(ctx: Context, task: str) -> None:
    # Here you would do the task's work: call another service, compute something, ...
    logger.info("Executing task: %s", task)
