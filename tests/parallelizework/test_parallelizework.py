"""parallelizework: real runSubtask invocations in parallel, results in input order, durable across a crash."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from patterns import REPO_ROOT
from patterns.httpclient import http
from patterns.restate_server import FAIL_FAST, SMALL
from patterns.signing import server_settings
from tests.harness import Deployment, Logs, NativeRestate, ServiceProcess, eventually, sql
from tests.readme import DevStack, output_blocks

DURATION = "PATTERNS_DURATION_PARALLELIZEWORK_SUBTASK"


def run(ingress_url: str, description: Any, timeout: float = 60) -> httpx.Response:
    return http.post(f"{ingress_url}/worker/run", json=description, timeout=timeout)


def subtask_invocations(admin_url: str, parent_id: str) -> list[dict[str, Any]]:
    return sql(
        admin_url,
        f"select target_handler_name, status from sys_invocation where invoked_by_id = '{parent_id}'",
    )


def test_results_come_back_in_input_order(deployment: Deployment, logs: Logs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATTERNS_TIME_SCALE", "0.1")  # random 0-0.4 s per subtask: completion order varies
    response = run(deployment.ingress_url, {"description": "a,b,c,d,e,f"})

    assert response.status_code == 200, response.text
    expected = "a: DONE,b: DONE,c: DONE,d: DONE,e: DONE,f: DONE"
    assert response.json() == {"description": expected}
    assert logs.count(f"Aggregated result: {expected}") == 1
    # Six separate runSubtask invocations, started by this run.
    children = subtask_invocations(deployment.admin_url, response.headers["x-restate-id"])
    assert sorted(child["target_handler_name"] for child in children) == ["runSubtask"] * 6
    for name in "abcdef":
        assert logs.count(f"Started executing subtask: {name}") == 1
        assert logs.count(f"Execution subtask finished: {name}") == 1


def test_subtasks_run_in_parallel(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DURATION, "1s")  # every subtask sleeps 1 s (durably)
    names = [f"t{i}" for i in range(10)]

    started = time.monotonic()
    response = run(deployment.ingress_url, {"description": ",".join(names)})
    elapsed = time.monotonic() - started

    assert response.json() == {"description": ",".join(f"{n}: DONE" for n in names)}
    assert 1.0 <= elapsed < 5.0, f"10 subtasks of 1 s took {elapsed:.1f}s: not parallel"  # serial: 10 s


def test_fan_out_of_200_subtasks(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DURATION, "100ms")
    names = [f"s{i:03}" for i in range(200)]

    started = time.monotonic()
    response = run(deployment.ingress_url, {"description": ",".join(names)})
    elapsed = time.monotonic() - started

    assert response.status_code == 200, response.text
    assert response.json()["description"].split(",") == [f"{n}: DONE" for n in names]
    assert len(subtask_invocations(deployment.admin_url, response.headers["x-restate-id"])) == 200
    assert elapsed < 30, elapsed  # about 2 s on an idle 2-core machine


@pytest.mark.parametrize("body", [{}, {"description": ""}, {"description": 5}, "a,b"])
def test_bad_task_gets_400(deployment: Deployment, body: Any) -> None:
    response = run(deployment.ingress_url, body)
    assert response.status_code == 400
    assert "Unable to parse an input argument" in response.json()["message"]


@pytest.fixture
def patient_restate(tmp_path: Path, identity_key: Path) -> Iterator[NativeRestate]:
    """A private server that keeps retrying while the service is down (the shared one gives up after ~2 s,
    which a process restart on a busy machine can exceed)."""
    patient = {
        **SMALL,
        **FAIL_FAST,
        **server_settings(identity_key),
        "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "200",
    }
    server = NativeRestate(tmp_path, patient)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_crash_during_fan_out_keeps_finished_subtasks(patient_restate: NativeRestate) -> None:
    restate = patient_restate
    names = [f"job{i}" for i in range(8)]
    # Random 0, 0.5, 1, 1.5 or 2 s per subtask: some finish before the crash, some after.
    with ServiceProcess(restate, "parallelizework", env={"PATTERNS_TIME_SCALE": "0.5"}) as service:
        sent = http.post(f"{restate.ingress_url}/worker/run/send", json={"description": ",".join(names)}, timeout=30)
        invocation = sent.json()["invocationId"]

        def finished() -> list[str]:
            return [n for n in names if service.count(f"Execution subtask finished: {n}") > 0]

        eventually(lambda: len(finished()) >= 1, timeout=20, interval=0.01)
        service.kill()
        before, crashed_at = finished(), len(service.lines)
        service.restart()

        attached = http.get(f"{restate.ingress_url}/restate/invocation/{invocation}/attach", timeout=60)
        assert attached.json() == {"description": ",".join(f"{n}: DONE" for n in names)}
        assert 1 <= len(before) < len(names), before  # the crash really happened in the middle
        for name in names:
            # Each subtask started once across both processes: finished subtasks were not run again, and the
            # interrupted ones resumed their durable sleep (the replayed "Started" line is not logged again).
            # "finished" is logged after the last journaled step: a kill between that line and the subtask's
            # completion reaching restate-server logs it once in each process, never twice in one.
            assert service.count(f"Started executing subtask: {name}") == 1, name
            done = f"Execution subtask finished: {name}"
            killed, restarted = service.lines[:crashed_at], service.lines[crashed_at:]
            assert sum(done in line for line in killed) + sum(done in line for line in restarted) >= 1, name
            assert sum(done in line for line in killed) <= 1 and sum(done in line for line in restarted) <= 1, name
        assert service.count("Aggregated result:") == 1
        assert len(subtask_invocations(restate.admin_url, invocation)) == len(names)


@pytest.mark.walkthrough(env={"PATTERNS_TIME_SCALE": "0.1"})
def test_readme_walkthrough(dev_stack: DevStack) -> None:
    readme = REPO_ROOT / "parallelizework" / "README.md"
    assert dev_stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows
    log = dev_stack.log("parallelizework")
    assert sum("Started executing subtask: shower" in line for line in log) == 1
