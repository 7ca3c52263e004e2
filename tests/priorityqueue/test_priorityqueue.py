"""priorityqueue: at most 10 in flight, lower priority numbers first, cancellation frees the queue."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from patterns import REPO_ROOT
from patterns.httpclient import http
from tests.harness import Deployment, Logs, eventually
from tests.readme import DevStack, output_blocks

QUEUE = "myService/expensiveMethod"
OPERATION = "PATTERNS_DURATION_PRIORITYQUEUE_OPERATION"


def send(deployment: Deployment, priority: int, left: int = 1, right: int = 2) -> str:
    sent = http.post(
        f"{deployment.ingress_url}/myService/expensiveMethod/send",
        json={"left": left, "right": right, "priority": priority},
        timeout=30,
    )
    assert sent.status_code == 202, sent.text
    invocation: str = sent.json()["invocationId"]
    return invocation


def attach(deployment: Deployment, invocation: str) -> httpx.Response:
    return http.get(f"{deployment.ingress_url}/restate/invocation/{invocation}/attach", timeout=60)


def queue_state(deployment: Deployment) -> dict[str, Any]:
    return deployment.state("queue", QUEUE)


def in_flight(state: dict[str, Any]) -> int:
    """How many callers the queue has admitted and not heard back from (the tickets in `inFlight`)."""
    return len(state.get("inFlight", []))


def drained(deployment: Deployment) -> None:
    assert queue_state(deployment) == {"items": [], "inFlight": []}


class Sampler:
    """Reads the queue's state through the admin SQL API in the background while a test runs."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.samples: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(queue_state(self.deployment))
            except httpx.HTTPStatusError as error:
                self.errors.append(f"{error}: {error.response.text}")
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def test_at_most_ten_in_flight_and_all_results_are_right(
    deployment: Deployment, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(OPERATION, "1s")
    with Sampler(deployment) as sampler, ThreadPoolExecutor(25) as pool:
        invocations = list(pool.map(lambda _: send(deployment, priority=2), range(25)))
        results = [attach(deployment, invocation) for invocation in invocations]
        eventually(lambda: drained(deployment), timeout=15)

    assert [(r.status_code, r.json()) for r in results] == [(200, 3)] * 25
    running = [in_flight(sample) for sample in sampler.samples]
    queued = [len(sample.get("items", [])) for sample in sampler.samples]
    assert max(running) == 10, running  # reached the limit, never above it
    assert 5 <= max(queued) <= 15, queued  # the rest waited in the queue (15 when all arrive at once)
    assert "Tick end. Queue length: 0, In Flight: 0" in logs.messages()


def test_priority_one_overtakes_queued_priority_two(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    # The operation reads its duration when it starts: nine long operations and one shorter one fill the slots,
    # so exactly one slot opens (after 2 s) while four items wait.
    monkeypatch.setenv(OPERATION, "5s")
    busy = [send(deployment, priority=2) for _ in range(9)]
    eventually(lambda: in_flight(queue_state(deployment)) == 9, timeout=15)
    monkeypatch.setenv(OPERATION, "2s")
    busy.append(send(deployment, priority=2))
    eventually(lambda: in_flight(queue_state(deployment)) == 10, timeout=15)
    monkeypatch.setenv(OPERATION, "300ms")
    waiting = [send(deployment, priority=2) for _ in range(3)]
    eventually(lambda: len(queue_state(deployment).get("items", [])) == 3, timeout=15)
    monkeypatch.setenv(OPERATION, "3s")  # the urgent operation: long enough to sample the queue behind it
    urgent = send(deployment, priority=1, left=100, right=1)

    with Sampler(deployment) as sampler:
        eventually(lambda: any(s and len(s["items"]) == 3 for s in sampler.samples), timeout=15)
        monkeypatch.setenv(OPERATION, "300ms")
        assert attach(deployment, urgent).json() == 101
        eventually(lambda: len(queue_state(deployment).get("items", [])) < 3, timeout=15)

    # While the priority-1 item waited, all three older priority-2 items waited too; the first item to leave
    # the queue was the priority-1 item.
    assert any(len(s["items"]) == 4 for s in sampler.samples if s), sampler.samples[:3]
    assert all(len(s["items"]) == 4 for s in sampler.samples if any(i["priority"] == 1 for i in s.get("items", [])))
    after = [s for s in sampler.samples if s and len(s["items"]) == 3]
    assert after and all(item["priority"] == 2 for s in after for item in s["items"])
    assert [attach(deployment, i).json() for i in busy + waiting] == [3] * 13
    eventually(lambda: drained(deployment), timeout=15)


def test_cancelled_waiter_is_dropped_and_leaks_no_capacity(
    deployment: Deployment, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough that the waiter is still queued when it is cancelled, even on a busy machine.
    monkeypatch.setenv(OPERATION, "8s")
    busy = [send(deployment, priority=2) for _ in range(10)]
    eventually(lambda: in_flight(queue_state(deployment)) == 10, timeout=15)
    waiter = send(deployment, priority=2)
    eventually(lambda: len(queue_state(deployment).get("items", [])) == 1, timeout=15)
    ticket = queue_state(deployment)["items"][0]["awakeable"]

    cancelled = http.patch(f"{deployment.admin_url}/invocations/{waiter}/cancel", timeout=30)
    assert cancelled.status_code == 202, cancelled.text

    # Its item leaves the queue, and its ticket holds no slot (the admitted operations may still run, or
    # on a busy machine have finished already: either way the queue forgot the waiter).
    eventually(
        lambda: queue_state(deployment)["items"] == [] and ticket not in queue_state(deployment)["inFlight"], timeout=15
    )
    answer = attach(deployment, waiter)
    assert answer.status_code == 409 and answer.json()["message"] == "cancelled"
    assert [attach(deployment, i).json() for i in busy] == [3] * 10
    eventually(lambda: drained(deployment), timeout=15)  # every slot came back: nothing leaked

    monkeypatch.setenv(OPERATION, "0s")
    assert attach(deployment, send(deployment, priority=1)).json() == 3  # and the queue still admits work


@pytest.mark.parametrize(
    "body",
    [
        {"left": 1},
        {"left": "one", "right": 2},
        {"left": 1, "right": 2, "priority": "high"},
        "1+2",
        {"left": 1e308, "right": 1e308},  # the sum would be Infinity, which is not JSON
        {"left": "1", "right": 2},
        {"left": True, "right": 2},
    ],
)
def test_bad_request_gets_400_and_changes_nothing(deployment: Deployment, body: Any) -> None:
    eventually(lambda: drained(deployment), timeout=15)  # an earlier test's last slot may still be coming back
    before = queue_state(deployment)
    response = http.post(f"{deployment.ingress_url}/myService/expensiveMethod", json=body, timeout=30)
    assert response.status_code == 400
    assert "Unable to parse an input argument" in response.json()["message"]
    assert queue_state(deployment) == before


@pytest.mark.walkthrough(env={OPERATION: "100ms"})
def test_readme_walkthrough(dev_stack: DevStack) -> None:
    readme = REPO_ROOT / "priorityqueue" / "README.md"
    assert dev_stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows
    log = dev_stack.log("priorityqueue")
    assert sum("Tick end. Queue length:" in line for line in log) >= 32  # a push and a done per call
