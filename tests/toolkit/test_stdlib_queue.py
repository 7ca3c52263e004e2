"""The top-level `queue/` pattern folder must never break the standard library's `queue` module."""

from __future__ import annotations

import concurrent.futures
import logging
import logging.handlers
import queue
import subprocess
import sys

from patterns import REPO_ROOT


def test_stdlib_queue_works_in_the_test_process() -> None:
    q: queue.Queue[int] = queue.Queue()
    q.put(1)
    assert q.get_nowait() == 1
    simple: queue.SimpleQueue[str] = queue.SimpleQueue()
    simple.put("x")
    assert simple.get() == "x"
    assert issubclass(queue.Empty, Exception)


def test_thread_pool_and_queue_handler_work() -> None:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert list(pool.map(lambda x: x * 2, range(3))) == [0, 2, 4]
    records: queue.Queue[logging.LogRecord] = queue.Queue()
    logger = logging.getLogger("tests.stdlib_queue")
    handler = logging.handlers.QueueHandler(records)
    logger.addHandler(handler)
    try:
        logger.warning("through a queue")
    finally:
        logger.removeHandler(handler)
    assert records.get_nowait().getMessage() == "through a queue"


def test_stdlib_queue_works_from_the_repository_root() -> None:
    """`python -m ...` puts the repository root first on sys.path, where the `queue/` folder lives."""
    code = (
        "import queue, concurrent.futures, logging.handlers, asyncio;"
        "q = queue.SimpleQueue(); q.put(1); assert q.get() == 1;"
        "logging.handlers.QueueHandler(queue.Queue());"
        "assert list(concurrent.futures.ThreadPoolExecutor(1).map(abs, [-1])) == [1];"
        "asyncio.run(asyncio.to_thread(abs, -2));"
        "print('ok')"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout) == (0, "ok\n"), run.stderr
