"""queue: idempotent (delayed) one-way sends, attach for the result, and the `queue` folder vs the stdlib.

The `queue` pattern package is never imported here: it runs as `python -m queue` (the user's command) and
`python -m queue.task_submitter`, both from the repository root.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import logging.handlers
import os
import queue
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from patterns import REPO_ROOT
from patterns.httpclient import http
from patterns.process import free_port
from tests.harness import RestateBackend, ServiceProcess, eventually, unique
from tests.readme import DevStack, output_blocks


@pytest.fixture(scope="module")
def worker(restate: RestateBackend) -> Iterator[ServiceProcess]:
    with ServiceProcess(restate, "queue", env={"PATTERNS_DURATION_QUEUE_WORK": "300ms"}) as process:
        yield process


def submitter(ingress_url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "queue.task_submitter", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "RESTATE_INGRESS_URL": ingress_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def submit(ingress_url: str, *args: str) -> list[str]:
    proc = submitter(ingress_url, *args)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    return stdout.splitlines()


def sent(line: str) -> dict[str, str]:
    assert line.startswith("Task submitted: "), line
    answer: dict[str, str] = json.loads(line.removeprefix("Task submitted: "))
    return answer


def test_resubmitting_a_task_id_is_previously_accepted_and_runs_the_task_once(
    restate: RestateBackend, worker: ServiceProcess
) -> None:
    task = unique("task")
    first = submit(restate.ingress_url, task, "--task", "resize images")
    again = submit(restate.ingress_url, task, "--task", "resize images")

    assert first[0] == f"Submitting task {task} with idempotency key {task}"
    assert sent(first[1])["status"] == "Accepted"
    assert sent(again[1])["status"] == "PreviouslyAccepted"
    assert sent(again[1])["invocationId"] == sent(first[1])["invocationId"]
    assert first[2] == again[2] == f"Task result: Finished work on task: {task}"
    assert worker.count(f"Working on task {task}: resize images") == 1
    assert worker.count(f"Finished work on task {task}") == 1


def test_any_process_can_attach_to_the_task_by_its_id(restate: RestateBackend, worker: ServiceProcess) -> None:
    task = unique("task")
    response = http.post(
        f"{restate.ingress_url}/asyncTaskWorker/runTask/send",
        headers={"idempotency-key": task},
        json={"id": task, "task": "x"},
        timeout=30,
    )
    assert (response.status_code, response.json()["status"]) == (202, "Accepted")
    attach = f"{restate.ingress_url}/restate/invocation/asyncTaskWorker/runTask/{task}/attach"
    by_id = f"{restate.ingress_url}/restate/invocation/{response.json()['invocationId']}/output"
    assert http.get(attach, timeout=30).json() == f"Finished work on task: {task}"
    assert http.get(by_id, timeout=30).json() == f"Finished work on task: {task}"
    assert worker.count(f"Working on task {task}: x") == 1


@pytest.mark.slow
def test_a_delayed_task_runs_once_after_the_delay(restate: RestateBackend, worker: ServiceProcess) -> None:
    task = unique("task")
    proc = submitter(restate.ingress_url, task, "--delay", "2s")
    assert proc.stdout is not None
    lines = [proc.stdout.readline().rstrip("\n") for _ in range(2)]
    submitted = time.monotonic()  # at or after Restate accepted the task
    assert "executionTime" in sent(lines[1]) and sent(lines[1])["status"] == "Accepted"

    # Not run yet: the result does not exist, the worker has not seen the task.
    output = http.get(f"{restate.ingress_url}/restate/invocation/asyncTaskWorker/runTask/{task}/output", timeout=10)
    assert output.status_code == 470, output.text
    assert worker.count(f"Working on task {task}") == 0

    eventually(lambda: worker.count(f"Working on task {task}") == 1, timeout=30)
    started = time.monotonic()  # at or after the worker started
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert stdout == f"Task result: Finished work on task: {task}\n"
    assert started - submitted >= 1.5  # the 2 s delay, minus a margin for the output pipe
    assert worker.count(f"Working on task {task}") == 1


def test_a_task_that_is_not_a_task_gets_a_400_and_runs_nothing(restate: RestateBackend, worker: ServiceProcess) -> None:
    response = http.post(f"{restate.ingress_url}/asyncTaskWorker/runTask", json={"task": "no id"}, timeout=30)
    assert response.status_code == 400
    assert "id" in response.json()["message"] and "Field required" in response.json()["message"]
    assert worker.count("Working on task") == worker.count("Finished work on task")
    assert worker.count(": no id") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [(["bad/id"], "use 1 to 128 letters"), (["t1", "--delay", "soon"], "not a duration")],
)
def test_submitter_refuses_bad_arguments(args: list[str], message: str) -> None:
    proc = submitter("http://127.0.0.1:1", *args)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2 and message in stderr


def test_submitter_says_when_restate_is_unreachable() -> None:
    proc = submitter(f"http://127.0.0.1:{free_port()}", "t1")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "Restate is unreachable" in stderr


def test_the_standard_library_queue_works_here_and_next_to_the_pattern(worker: ServiceProcess) -> None:
    # This process: the real standard library module; the pattern package was never imported.
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    assert Path(queue.__file__ or "").parent == stdlib, queue.__file__
    assert not [name for name in sys.modules if name.startswith("queue.")]
    q: queue.Queue[int] = queue.Queue()
    q.put(1)
    simple: queue.SimpleQueue[str] = queue.SimpleQueue()
    simple.put("x")
    assert (q.get_nowait(), simple.get()) == (1, "x")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert list(pool.map(abs, [-1, -2])) == [1, 2]
    records: queue.Queue[logging.LogRecord] = queue.Queue()
    handler = logging.handlers.QueueHandler(records)
    logger = logging.getLogger("tests.queue.stdlib")
    logger.addHandler(handler)
    try:
        logger.warning("through a queue")
    finally:
        logger.removeHandler(handler)
    assert records.get_nowait().getMessage() == "through a queue"

    # The `python -m queue` process (the worker fixture) serves, with hypercorn and restate-sdk loaded...
    assert http.get(f"{worker.url}/health", timeout=10).status_code == 200
    # ... and a process started from the repository root, where `import queue` finds the shim, has both:
    # the standard library's classes and the pattern's modules.
    code = """
import asyncio, concurrent.futures, logging, logging.handlers, queue, sys
from pathlib import Path
assert Path(queue.__file__) == Path.cwd() / "queue" / "__init__.py", queue.__file__
import queue.app, queue.task_submitter  # restate-sdk, hypercorn and httpx import the stdlib queue too
q = queue.Queue(); q.put(1); assert q.get_nowait() == 1
s = queue.SimpleQueue(); s.put(2); assert s.get() == 2
l = queue.LifoQueue(); p = queue.PriorityQueue(); assert issubclass(queue.Empty, Exception) and queue.Full
try:
    q.get_nowait()
except queue.Empty:
    pass
assert list(concurrent.futures.ThreadPoolExecutor(2).map(abs, [-1, -2])) == [1, 2]
assert asyncio.run(asyncio.to_thread(abs, -3)) == 3
records = queue.Queue(); logging.getLogger("x").addHandler(logging.handlers.QueueHandler(records))
logging.getLogger("x").warning("hello"); assert records.get_nowait().getMessage() == "hello"
print(sorted(queue.__all__))
"""
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "['Empty', 'Full', 'LifoQueue', 'PriorityQueue', 'Queue', 'SimpleQueue']\n"


@pytest.mark.walkthrough(env={"PATTERNS_DURATION_QUEUE_WORK": "100ms"})
@pytest.mark.slow  # the walkthrough has a task delayed by 2 s
def test_readme_walkthrough(dev_stack: DevStack) -> None:
    readme = REPO_ROOT / "queue" / "README.md"
    assert dev_stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows
    assert sum("Working on task task123" in line for line in dev_stack.log("queue")) == 1
