"""batching: batches of 10 or whatever is there after MAX_BATCH_WAIT; every item in exactly one batch."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from batching.app import app
from patterns import REPO_ROOT
from patterns.httpclient import http
from tests.harness import Deployment, NativeRestate, RestateBackend, ServiceProcess, deployed, eventually, sql, state
from tests.readme import DevStack, output_blocks

WAIT = "PATTERNS_DURATION_BATCHING_MAX_BATCH_WAIT"


@pytest.fixture(scope="module")
def deployment(restate: RestateBackend) -> Iterator[Deployment]:
    with deployed(restate, app) as deployment:
        yield deployment


def new_key() -> str:
    return f"stream-{uuid.uuid4().hex[:10]}"


def receive(client: httpx.Client, ingress_url: str, key: str, item: Any) -> httpx.Response:
    response = client.post(f"{ingress_url}/batcher/{key}/receive", json=item, timeout=30)
    assert response.status_code == 200, response.text
    return response


def batches(admin_url: str, key: str) -> list[list[Any]]:
    received: list[list[Any]] = state(admin_url, "batchReceiver", key).get("batches", [])
    return received


def received_at(caplog: pytest.LogCaptureFixture, batch: list[Any]) -> float:
    """When the receiver logged `batch` (the items of each test are unique)."""
    wanted = f"Received batch: {batch}"
    return next(r.created for r in caplog.records if r.getMessage() == wanted)


def journal_commands(admin_url: str, invocation_ids: list[str], command: str) -> list[dict[str, Any]]:
    """The `command` entries (e.g. `OneWayCall`) of these invocations' journals, from the admin SQL API."""
    ids = ", ".join(f"'{i}'" for i in invocation_ids)
    rows = sql(
        admin_url,
        f"select entry_lite_json from sys_journal where entry_type = 'Command: {command}' and id in ({ids})",
    )
    return [json.loads(row["entry_lite_json"])["Command"][command] for row in rows]


def test_25_quick_items_make_batches_of_10_10_and_5(
    deployment: Deployment, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    wait = 3.0  # long enough that each ten items arrive before their batch's timer, even on a busy machine
    monkeypatch.setenv(WAIT, f"{wait}s")
    key = new_key()
    items = [f"{key}:{i}" for i in range(1, 26)]

    sent_at, receive_ids = [], []
    with httpx.Client() as client:
        for item in items:
            sent_at.append(time.time())
            receive_ids.append(receive(client, deployment.ingress_url, key, item).headers["x-restate-id"])

    eventually(lambda: len(batches(deployment.admin_url, key)) == 3, timeout=wait + 15)
    assert batches(deployment.admin_url, key) == [items[:10], items[10:20], items[20:]]
    assert deployment.state("batcher", key) == {}  # nothing left behind
    # The last batch went out when its timer fired, which the 21st item had started: about MAX_BATCH_WAIT
    # later (never earlier). The full ones went out with their 10th item (below: no other timer fired).
    assert wait * 0.9 <= received_at(caplog, items[20:]) - sent_at[20] < wait + 10

    # Three `expire` calls were scheduled (by the 1st, 11th and 21st items); the 10th and 20th items
    # cancelled the first two. Only the third ran.
    scheduled = {
        call["invocation_id"]
        for call in journal_commands(deployment.admin_url, receive_ids, "OneWayCall")
        if call["invocation_target"]["VirtualObject"]["handler"] == "expire"
    }
    signals = journal_commands(deployment.admin_url, receive_ids, "SendSignal")
    cancelled = {signal["target_invocation_id"] for signal in signals if signal["signal_id"] == {"Index": 1}}
    assert len(scheduled) == 3 and len(cancelled) == 2 and cancelled < scheduled
    ran = sql(
        deployment.admin_url,
        f"select id, status, completion_result from sys_invocation where target = 'batcher/{key}/expire'",
    )
    # (restate-server 1.7 removes a delayed call cancelled before its time: no row, no journal, no run.)
    (last,) = scheduled - cancelled
    assert ran == [{"id": last, "status": "completed", "completion_result": "success"}]
    timer_logs = [r.getMessage() for r in caplog.records if r.getMessage().endswith("as the timer fired")]
    assert timer_logs == ["Sending batch with 5 items as the timer fired"]


def test_a_single_item_goes_out_alone_after_the_wait(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WAIT, "300ms")
    key = new_key()
    with httpx.Client() as client:
        receive(client, deployment.ingress_url, key, {"id": 7})

    eventually(lambda: batches(deployment.admin_url, key) == [[{"id": 7}]], timeout=15)
    assert deployment.state("batcher", key) == {}


def test_31_items_from_8_concurrent_clients_each_arrive_exactly_once(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WAIT, "300ms")  # short: timers fire in the middle of the storm too
    key = new_key()
    items = list(range(1, 32))

    with httpx.Client() as client, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda item: receive(client, deployment.ingress_url, key, item), items))

    def delivered() -> list[Any]:
        return [item for batch in batches(deployment.admin_url, key) for item in batch]

    eventually(lambda: len(delivered()) >= len(items), timeout=15)
    assert sorted(delivered()) == items  # none lost, none twice
    assert all(1 <= len(batch) <= 10 for batch in batches(deployment.admin_url, key))
    assert deployment.state("batcher", key) == {}


@pytest.mark.parametrize(
    ("handler", "body"),
    [
        ("receive", b"not json"),
        ("receive", b"null"),
        ("receive", b""),
        ("expire", b""),  # internal
    ],
)
def test_bad_requests_get_400_and_change_nothing(deployment: Deployment, handler: str, body: bytes) -> None:
    key = new_key()
    headers = {"content-type": "application/json"} if body else {}
    response = http.post(f"{deployment.ingress_url}/batcher/{key}/{handler}", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["message"]
    assert deployment.state("batcher", key) == {}


def test_an_empty_batch_is_refused_by_the_receiver(deployment: Deployment) -> None:
    key = new_key()
    response = http.post(f"{deployment.ingress_url}/batchReceiver/{key}/receive", json={"items": []})
    assert response.status_code == 400
    assert "at least 1 item" in response.json()["message"]
    assert deployment.state("batchReceiver", key) == {}


@pytest.mark.slow
def test_a_crash_of_the_service_between_items_loses_nothing(own_restate: NativeRestate) -> None:
    key = new_key()
    # A long wait: the batch can only go out by filling up, after the crash.
    with ServiceProcess(own_restate, "batching", env={WAIT: "1m"}) as service, httpx.Client() as client:
        for item in range(1, 8):
            receive(client, own_restate.ingress_url, key, item)
        service.kill()  # SIGKILL: the open batch and its timer are in Restate, not in the process
        service.restart()
        for item in range(8, 11):
            receive(client, own_restate.ingress_url, key, item)

        eventually(lambda: batches(own_restate.admin_url, key) == [list(range(1, 11))], timeout=15)
        assert state(own_restate.admin_url, "batcher", key) == {}
        assert service.count("Sending batch as it reached 10 items") == 1
        assert service.count("as the timer fired") == 0


# 10 s: every ten items of the walkthrough's loop arrive before their batch's timer, even on a busy machine
# (with 3 s, ten `curl`s once took longer on a clean-clone CI run: a batch of eight went out).
@pytest.mark.walkthrough(env={WAIT: "10s"})
def test_readme_walkthrough(dev_stack: DevStack) -> None:
    readme = REPO_ROOT / "batching" / "README.md"
    assert dev_stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows

    def lines(ending: str) -> int:
        return sum(line.endswith(ending) for line in dev_stack.log("batching"))

    eventually(lambda: lines("Received batch: [123]") == 1, timeout=30)  # the single item, after its wait
    assert lines("Sending batch with 1 items as the timer fired") == 1
