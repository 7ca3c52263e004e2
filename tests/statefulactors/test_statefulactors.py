"""statefulactors: transitions per machine run one at a time, survive failures and real process crashes."""

from __future__ import annotations

import os
import random
import re
import signal
import threading
from pathlib import Path

import httpx
import pytest

from patterns import REPO_ROOT
from patterns.httpclient import http
from tests.harness import Deploy, Deployment, Logs, NativeRestate, RestateBackend, ServiceProcess, eventually, unique
from tests.readme import DevStack, output_blocks

FAILURES = "PATTERNS_FAILURES_STATEFULACTORS_TRANSITION"
DURATION = "PATTERNS_DURATION_STATEFULACTORS_TRANSITION"


@pytest.fixture(scope="module")
def deployment(deploy: Deploy) -> Deployment:
    return deploy("statefulactors.app:app", env={FAILURES: "0", DURATION: "100ms"})


def call(ingress_url: str, key: str, handler: str) -> httpx.Response:
    # No input: a bare POST, without content-type.
    return http.post(f"{ingress_url}/machineOperator/{key}/{handler}", timeout=60)


def test_sequential_walkthrough_messages_and_state(deployment: Deployment) -> None:
    m = unique("m")
    answers = [call(deployment.ingress_url, m, h).json() for h in ("setUp", "setUp", "tearDown", "tearDown")]
    assert answers == [
        f"{m} is now up",
        f"{m} is already up, so nothing to do",
        f"{m} is now down",
        f"{m} is not up, cannot tear down",
    ]
    assert deployment.state("machineOperator", m) == {"status": "DOWN"}


def test_transitions_of_one_machine_queue_while_another_machine_runs_in_parallel(
    deployment: Deployment, logs: Logs, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DURATION, "1s")
    a, b = unique("m"), unique("m")
    answers: dict[str, str] = {}

    def send(key: str, handler: str) -> None:
        answers[f"{key}/{handler}"] = call(deployment.ingress_url, key, handler).json()

    threads = [threading.Thread(target=send, args=(a, "setUp"))]
    threads[0].start()
    eventually(lambda: logs.count(f"Beginning transition of {a} to UP") == 1, timeout=30)
    # a is busy: its tearDown has to wait; b is another machine and starts at once.
    threads += [threading.Thread(target=send, args=args) for args in ((a, "tearDown"), (b, "setUp"))]
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert answers == {
        f"{a}/setUp": f"{a} is now up",
        f"{a}/tearDown": f"{a} is now down",
        f"{b}/setUp": f"{b} is now up",
    }
    at = {r.getMessage(): r.created for r in caplog.records if "transition" in r.getMessage()}
    # One transition at a time for a: the tearDown began only after the setUp was done.
    assert at[f"Beginning transition of {a} to DOWN"] >= at[f"Done transitioning {a} to UP"]
    assert at[f"Done transitioning {a} to DOWN"] - at[f"Beginning transition of {a} to UP"] >= 2 * 0.9
    # b did not wait for a.
    assert at[f"Beginning transition of {b} to UP"] < at[f"Done transitioning {a} to UP"]
    assert deployment.state("machineOperator", a) == {"status": "DOWN"}


def test_a_failed_transition_is_retried_and_completes_once(
    deployment: Deployment, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAILURES, "first:1")
    m = unique("m")

    assert call(deployment.ingress_url, m, "setUp").json() == f"{m} is now up"

    assert logs.count(f"Beginning transition of {m} to UP") == 2
    assert logs.count("[👻 SIMULATED] A failure happened!") == 1
    assert logs.count(f"Done transitioning {m} to UP") == 1
    assert deployment.state("machineOperator", m) == {"status": "UP"}


def test_no_input_handlers_take_what_the_typescript_clients_send_and_nothing_else(deployment: Deployment) -> None:
    # @restatedev/restate-sdk-clients call a handler without input with an empty JSON-typed body.
    up, down, other = unique("m"), unique("m"), unique("m")
    json_type = {"content-type": "application/json"}
    response = http.post(f"{deployment.ingress_url}/machineOperator/{up}/setUp", content=b"", headers=json_type)
    assert (response.status_code, response.json()) == (200, f"{up} is now up")
    response = http.post(
        f"{deployment.ingress_url}/machineOperator/{down}/tearDown", content=b"null", headers=json_type
    )
    assert (response.status_code, response.json()) == (200, f"{down} is not up, cannot tear down")

    response = http.post(f"{deployment.ingress_url}/machineOperator/{other}/setUp", json={"speed": "fast"})
    assert response.status_code == 400
    assert "This handler takes no input" in response.json()["message"]
    assert deployment.state("machineOperator", other) == {}


def crashing_seed(probability: float) -> str:
    """A PATTERNS_SEED whose first process crashes at its first draw and whose restart does not (the
    supervisor seeds restart n with `<seed>:<n>`, patterns.chaos draws from random.Random(seed)).

    The restart must survive two draws: with --always-replay the transition suspends at its sleep and
    replays the code before it (drawing again) when it resumes."""

    def draws(seed: str, n: int) -> list[float]:
        rng = random.Random(seed)
        return [rng.random() for _ in range(n)]

    return next(
        str(s) for s in range(1000) if draws(f"{s}:0", 1)[0] < probability and min(draws(f"{s}:1", 2)) >= probability
    )


@pytest.mark.slow
def test_crash_process_mode_under_the_supervisor(tmp_path: Path, restate_settings: dict[str, str]) -> None:
    patient = {**restate_settings, "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "200"}
    server = NativeRestate(tmp_path, patient)
    service = ServiceProcess(
        server,
        "statefulactors",
        env={
            "RESTART_ON_EXIT": "1",
            "CRASH_PROCESS": "1",
            FAILURES: "0.4",
            "PATTERNS_SEED": crashing_seed(0.4),
            DURATION: "200ms",
        },
    )
    try:
        service.start()
        answer = call(server.ingress_url, "crashy", "setUp")
        assert answer.json() == "crashy is now up"

        pids = [int(pid) for pid in re.findall(r"started statefulactors \(pid (\d+)\)", "\n".join(service.lines))]
        assert len(pids) == 2  # the first process really exited, the supervisor started a second one
        assert service.count("--- CRASHING THE PROCESS ---") == 1
        assert service.count("exited with code 1, restarting") == 1
        assert service.count("Beginning transition of crashy to UP") == 2
        assert service.count("Done transitioning crashy to UP") == 1
    finally:
        service.stop()  # SIGTERM to the supervisor, which passes it on to the service
        server.stop()
    assert service.returncode == 0
    assert service.count("supervisor: statefulactors stopped") == 1
    with pytest.raises(ProcessLookupError):
        os.kill(pids[-1], 0)


@pytest.mark.slow
def test_supervisor_forwards_sigint_and_stops_its_child(restate: RestateBackend) -> None:
    service = ServiceProcess(restate, "statefulactors", env={"RESTART_ON_EXIT": "1"}, register=False)
    service.start()
    try:
        child = int(re.findall(r"\(pid (\d+)\)", "\n".join(service.lines))[0])
        service.send_signal(signal.SIGINT)
        assert service.wait(30) == 0
    finally:
        service.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


@pytest.mark.walkthrough(env={FAILURES: "0", DURATION: "200ms", "RESTART_ON_EXIT": "1"})
@pytest.mark.slow
def test_readme_walkthrough(dev_stack: DevStack) -> None:
    readme = REPO_ROOT / "statefulactors" / "README.md"
    assert dev_stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows
    # The background requests of machine `a` may still be running: wait for all six transitions.
    eventually(lambda: sum("Done transitioning" in line for line in dev_stack.log("statefulactors")) == 6, timeout=30)
