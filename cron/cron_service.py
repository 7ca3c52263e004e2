"""Cron jobs on Restate: `CronJobInitiator` creates jobs; each job is a `CronJob` object (key = job id) that
runs its task on the schedule of a cron expression, through a delayed call to itself for every next run."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import restate
from cronsim import CronSim, CronSimError
from pydantic import BaseModel, Field, JsonValue
from restate import Context, ObjectContext, ObjectSharedContext, RunOptions, Service, TerminalError, VirtualObject
from restate.serde import PydanticJsonSerde

from cron.targets import check_target
from patterns.wire import CamelModel, Key, NoInput, bad_input_is_400

logger = restate.getLogger(__name__)


class JobRequest(CamelModel):
    # Five fields (minute hour day-of-month month day-of-week), e.g. "0 0 * * *": every day at midnight
    # (UTC); or six, with the seconds first: "*/10 * * * * *" runs every 10 seconds.
    cron_expression: str = Field(examples=["*/10 * * * * *"])
    service: str = Field(min_length=1, examples=["TaskService"])
    method: str = Field(min_length=1, examples=["executeTask"])  # the handler to run on this schedule
    key: Key | None = None  # the object key, if the handler belongs to a virtual object
    payload: JsonValue = None  # the handler's JSON input; none: an empty body


class NewJob(JobRequest):
    # Optional: name the job yourself (upstream always draws a random id).
    job_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._~-]{1,64}$")


class JobInfo(BaseModel):
    """The job, stored under `job-state` (field names as in the TypeScript example)."""

    request: JobRequest
    next_execution_time: str
    next_execution_id: str


JOB_STATE = "job-state"

cron_job_initiator = Service("CronJobInitiator", invocation_context_managers=[bad_input_is_400])
cron_job = VirtualObject("CronJob", invocation_context_managers=[bad_input_is_400])


@cron_job_initiator.handler()
async def create(ctx: Context, request: NewJob) -> str:
    # Refuse a target that a run could never reach (the answer is journaled, like any side effect).
    await ctx.run_typed(
        "check the target",
        check_target,
        RunOptions(max_attempts=5),
        service=request.service,
        method=request.method,
        key=request.key,
    )
    # A new job id (from the journal: the same on a retry), and wait until the job is scheduled.
    job_id = request.job_id or str(ctx.uuid())
    job = await ctx.object_call(
        initiate, key=job_id, arg=JobRequest.model_validate(request.model_dump(exclude={"job_id"}))
    )
    return f"Job created with ID {job_id} and next execution time {job.next_execution_time}"


@cron_job.handler(ingress_private=True)
async def initiate(ctx: ObjectContext, request: JobRequest) -> JobInfo:
    """Start the job (called by `create` only, not reachable from the ingress)."""
    if await ctx.get(JOB_STATE, type_hint=JobInfo) is not None:
        raise TerminalError("Job already exists for this ID.", status_code=409)
    return await schedule_next_execution(ctx, request)


@cron_job.handler(ingress_private=True)
async def execute(ctx: ObjectContext, _: NoInput) -> None:
    """A scheduled run (a delayed call from the job itself): run the task, schedule the next run."""
    job = await ctx.get(JOB_STATE, type_hint=JobInfo)
    if job is None:
        raise TerminalError("Job not found.", status_code=404)
    task = job.request
    # A one-way call to any handler, by name: JSON input, or an empty body when there is no payload.
    body = b"" if task.payload is None else json.dumps(task.payload).encode()
    ctx.generic_send(task.service, task.method, body, key=task.key)
    await schedule_next_execution(ctx, task)


@cron_job.handler()
async def cancel(ctx: ObjectContext, _: NoInput) -> None:
    job = await ctx.get(JOB_STATE, type_hint=JobInfo)
    if job is not None:
        ctx.cancel_invocation(job.next_execution_id)  # the pending run never happens
    ctx.clear_all()


class JobInfoOrNull(PydanticJsonSerde[JobInfo]):
    """JSON `null` for an unknown job, as the TypeScript example answers (the SDK sends an empty body)."""

    def serialize(self, obj: JobInfo | None) -> bytes:
        return b"null" if obj is None else super().serialize(obj)


@cron_job.handler("getInfo", kind="shared", output_serde=JobInfoOrNull(JobInfo))
async def get_info(ctx: ObjectSharedContext, _: NoInput) -> JobInfo | None:
    return await ctx.get(JOB_STATE, type_hint=JobInfo)


async def schedule_next_execution(ctx: ObjectContext, request: JobRequest) -> JobInfo:
    # "Now" comes from the journal: a retry or a replay computes the same next run (never the wall clock).
    now = datetime.fromtimestamp(await ctx.time(), tz=UTC)
    next_time = next_run(request.cron_expression, now)
    # A durable timer: a delayed call to our own `execute`. Its invocation id lets `cancel` stop it.
    handle = ctx.object_send(execute, key=ctx.key(), arg=None, send_delay=next_time - now)
    job = JobInfo(
        request=request, next_execution_time=next_time.isoformat(), next_execution_id=await handle.invocation_id()
    )
    ctx.set(JOB_STATE, job)
    logger.info("Job %s: next execution at %s", ctx.key(), job.next_execution_time)
    return job


def next_run(cron_expression: str, after: datetime) -> datetime:
    """The first time after `after` that matches the expression (times in UTC)."""
    try:
        return next(CronSim(cron_expression, after))
    except CronSimError as error:
        raise TerminalError(f"Invalid cron expression: {error}", status_code=400) from None
