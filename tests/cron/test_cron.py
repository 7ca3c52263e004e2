"""cron: jobs run their task on the schedule of a cron expression, from a stored, cancellable delayed call."""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import restate
from restate import ObjectContext, VirtualObject
from restate.serde import BytesSerde

from cron.app import app
from patterns import REPO_ROOT
from patterns.httpclient import http
from tests.harness import Deployment, NativeRestate, RestateBackend, deployed, eventually, sql, state
from tests.readme import DevStack, output_blocks

# A virtual object of the tests, for jobs that call an object handler: it keeps every body it got.
recorder = VirtualObject("CronTestRecorder")


@recorder.handler(accept="*/*", input_serde=BytesSerde())
async def record(ctx: ObjectContext, body: bytes) -> None:
    ctx.set("bodies", [*(await ctx.get("bodies", type_hint=list) or []), body.decode()])


recorder_app = restate.app([recorder])


@pytest.fixture(scope="module")
def deployment(restate: RestateBackend) -> Iterator[Deployment]:
    with pytest.MonkeyPatch.context() as patch, deployed(restate, app) as deployment:
        patch.setenv("RESTATE_ADMIN_URL", restate.admin_url)  # where `create` looks the targets up
        with deployed(restate, recorder_app):
            yield deployment


def new_id() -> str:
    return f"job-{uuid.uuid4().hex[:10]}"


def create(ingress_url: str, request: dict[str, Any]) -> httpx.Response:
    return http.post(f"{ingress_url}/CronJobInitiator/create", json=request, timeout=30)


def get_info(ingress_url: str, job_id: str) -> Any:
    response = http.get(f"{ingress_url}/CronJob/{job_id}/getInfo", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def cancel(ingress_url: str, job_id: str) -> None:
    assert http.post(f"{ingress_url}/CronJob/{job_id}/cancel", timeout=30).status_code == 200


def task(payload: str, cron_expression: str = "* * * * * *") -> dict[str, Any]:
    return {"cronExpression": cron_expression, "service": "TaskService", "method": "executeTask", "payload": payload}


def runs(caplog: pytest.LogCaptureFixture, payload: str) -> list[float]:
    """When TaskService ran the task with this payload."""
    return [r.created for r in caplog.records if r.getMessage() == f"Executing task: {payload}"]


def executions(admin_url: str, job_id: str) -> dict[str, str]:
    """The job's `execute` invocations in Restate: id -> status."""
    rows = sql(admin_url, f"select id, status from sys_invocation where target = 'CronJob/{job_id}/execute'")
    return {row["id"]: row["status"] for row in rows}


def test_a_job_runs_its_task_every_2_seconds_until_cancelled(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    job_id = new_id()
    request = task(f"hello from {job_id}", "*/2 * * * * *")  # six fields: every 2 seconds

    created = create(deployment.ingress_url, {**request, "jobId": job_id})
    assert created.status_code == 200, created.text
    info = get_info(deployment.ingress_url, job_id)
    assert info["request"] == {**request, "key": None}
    first_time = created.json().removeprefix(f"Job created with ID {job_id} and next execution time ")
    assert first_time <= info["next_execution_time"]  # the same, unless the first run came in between
    assert info["next_execution_id"] in executions(deployment.admin_url, job_id)

    # Every run stores the id and time of the next one: watch them go by while the task runs three times.
    stored_ids, stored_times = {info["next_execution_id"]}, {first_time, info["next_execution_time"]}

    def three_runs() -> bool:
        info = get_info(deployment.ingress_url, job_id)
        stored_ids.add(info["next_execution_id"])
        stored_times.add(info["next_execution_time"])
        return len(runs(caplog, request["payload"])) >= 3

    eventually(three_runs, timeout=30, interval=0.2)

    # The run pending at the cancel: read while it is at least 0.5 s from due (no run can slip in between).
    def far_from_due() -> dict[str, str]:
        info: dict[str, str] = get_info(deployment.ingress_url, job_id)
        assert datetime.fromisoformat(info["next_execution_time"]).timestamp() - time.time() > 0.5
        return info

    pending = eventually(far_from_due, timeout=30)
    stored_ids.add(pending["next_execution_id"])
    stored_times.add(pending["next_execution_time"])
    cancel(deployment.ingress_url, job_id)

    # The schedule (times from the journal) is every 2 s; when each run starts also depends on the load.
    scheduled = sorted(datetime.fromisoformat(moment) for moment in stored_times)
    assert all((later - earlier).total_seconds() >= 1.5 for earlier, later in itertools.pairwise(scheduled)), scheduled
    done = executions(deployment.admin_url, job_id)
    assert len(done) >= 3 and set(done.values()) == {"completed"}
    assert len(stored_ids) >= 3
    # Every id the job stored was a run that happened, except the last one: cancelled before its time
    # (restate-server removes such a delayed call, so it never runs).
    assert len(stored_ids - done.keys()) == 1

    assert get_info(deployment.ingress_url, job_id) is None
    assert deployment.state("CronJob", job_id) == {}
    eventually(lambda: len(runs(caplog, request["payload"])) == len(done))  # (the last task call, one-way)
    deadline = time.monotonic() + 2.5  # longer than the period: a run that was still due would show now
    while time.monotonic() < deadline:
        assert len(runs(caplog, request["payload"])) == len(done)
        time.sleep(0.1)


def test_a_job_calls_an_object_handler_with_its_key_and_json_payload(deployment: Deployment) -> None:
    with_payload, without_payload = new_id(), new_id()
    job = {"cronExpression": "* * * * * *", "service": "CronTestRecorder", "method": "record"}
    for job_id, extra in ((with_payload, {"payload": {"n": 1}}), (without_payload, {})):
        created = create(deployment.ingress_url, {**job, "key": f"key-{job_id}", "jobId": job_id, **extra})
        assert created.status_code == 200, created.text

    def bodies(job_id: str) -> list[str]:
        received: list[str] = deployment.state("CronTestRecorder", f"key-{job_id}").get("bodies", [])
        return received

    eventually(lambda: bodies(with_payload) and bodies(without_payload), timeout=15)
    cancel(deployment.ingress_url, with_payload)
    cancel(deployment.ingress_url, without_payload)
    assert set(bodies(with_payload)) == {'{"n": 1}'}  # the payload, as JSON
    assert set(bodies(without_payload)) == {""}  # no payload: an empty body


def test_an_invalid_cron_expression_gets_400_and_creates_nothing(deployment: Deployment) -> None:
    job_id = new_id()
    response = create(deployment.ingress_url, {**task("never", "61 * * * *"), "jobId": job_id})
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid cron expression: Bad minute"
    assert deployment.state("CronJob", job_id) == {}
    assert get_info(deployment.ingress_url, job_id) is None


def test_a_second_job_with_the_same_id_is_refused(deployment: Deployment) -> None:
    job_id = new_id()
    yearly = {**task("happy new year", "0 0 1 1 *"), "jobId": job_id}
    assert create(deployment.ingress_url, yearly).status_code == 200
    before = deployment.state("CronJob", job_id)

    again = create(deployment.ingress_url, {**task("every second"), "jobId": job_id})
    assert again.status_code == 409
    assert again.json()["message"] == "Job already exists for this ID."
    assert deployment.state("CronJob", job_id) == before
    cancel(deployment.ingress_url, job_id)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": None}, "Unable to parse an input argument"),
        ({"jobId": "a/b"}, "Unable to parse an input argument"),
        ({"service": "NoSuchService"}, "Unknown service: NoSuchService"),
        ({"method": "noSuchHandler"}, "Unknown handler: TaskService/noSuchHandler"),
        ({"key": "k1"}, "TaskService is a service: the job must not have a key"),
        ({"service": "CronJob", "method": "getInfo"}, "CronJob is a VirtualObject: the job needs a key"),
        ({"service": "CronJob", "method": "execute", "key": "k1"}, "CronJob/execute is internal"),
    ],
)
def test_bad_jobs_get_400_and_create_nothing(deployment: Deployment, change: dict[str, Any], message: str) -> None:
    job_id = new_id()
    request = {key: value for key, value in {**task("x"), "jobId": job_id, **change}.items() if value is not None}
    response = create(deployment.ingress_url, request)
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert deployment.state("CronJob", job_id) == {}


@pytest.mark.parametrize("handler", ["initiate", "execute"])
def test_internal_handlers_are_not_reachable_from_the_ingress(deployment: Deployment, handler: str) -> None:
    job_id = new_id()
    response = http.post(f"{deployment.ingress_url}/CronJob/{job_id}/{handler}", json=task("x"))
    assert response.status_code == 400
    assert "not public" in response.json()["message"]
    assert deployment.state("CronJob", job_id) == {}


@pytest.mark.slow
def test_the_schedule_survives_a_restate_server_restart(
    own_restate: NativeRestate, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("RESTATE_ADMIN_URL", own_restate.admin_url)
    job_id = new_id()
    payload = f"hello from {job_id}"
    with deployed(own_restate, app):
        assert create(own_restate.ingress_url, {**task(payload), "jobId": job_id}).status_code == 200
        eventually(lambda: len(runs(caplog, payload)) >= 1, timeout=15)

        own_restate.restart()  # same ports, same data directory: the job's next run is stored there
        restarted_at = time.time()

        eventually(lambda: len([t for t in runs(caplog, payload) if t > restarted_at]) >= 2, timeout=30)
        cancel(own_restate.ingress_url, job_id)
        assert state(own_restate.admin_url, "CronJob", job_id) == {}


def test_readme_walkthrough(dev_stack: DevStack) -> None:
    readme = REPO_ROOT / "cron" / "README.md"
    assert dev_stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows
