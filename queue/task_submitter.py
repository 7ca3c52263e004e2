"""`python -m queue.task_submitter <task id> [--task TEXT] [--delay 10s]`

Puts a task in Restate's queue with a one-way send (idempotency key = the task id, optionally delayed),
prints Restate's answer, then attaches to the task and prints its result. Run it twice with the same id:
the second send is `PreviouslyAccepted`, with the same invocation id and the same result.

Plain HTTP on purpose, since the HTTP shape is the lesson (restate-sdk 1.3's client also sends `?delay=`
without a unit, which restate-server rejects).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from datetime import timedelta
from typing import Any

import httpx

from patterns.chaos import parse_duration
from patterns.settings import settings

from .async_task_worker import TaskOpts


async def submit_task(http: httpx.AsyncClient, task: TaskOpts, delay: timedelta | None = None) -> dict[str, Any]:
    """One-way send: returns as soon as Restate has the task ({"invocationId": ..., "status": ...})."""
    params = {"delay": f"{int(delay.total_seconds() * 1000)}ms"} if delay else None
    response = await http.post(
        "/asyncTaskWorker/runTask/send",
        params=params,
        # Restate deduplicates by idempotency key: submitting the same task id again changes nothing.
        headers={"idempotency-key": task.id, "content-type": "application/json"},
        content=task.model_dump_json(),
    )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


async def task_result(http: httpx.AsyncClient, task_id: str) -> str:
    """Attach to the task by its idempotency key: waits until the worker is done, from any process."""
    response = await http.get(f"/restate/invocation/asyncTaskWorker/runTask/{task_id}/attach", timeout=None)
    response.raise_for_status()
    result: str = response.json()
    return result


async def main(task: TaskOpts, delay: timedelta | None = None, ingress_url: str | None = None) -> str:
    async with httpx.AsyncClient(base_url=ingress_url or settings().ingress_url, timeout=30) as http:
        print(f"Submitting task {task.id} with idempotency key {task.id}", flush=True)
        answer = await submit_task(http, task, delay)
        print(f"Task submitted: {json.dumps(answer)}", flush=True)
        # ... do other things while the task waits in the queue or runs ...
        result = await task_result(http, task.id)
        print(f"Task result: {result}", flush=True)
        return result


def task_id(text: str) -> str:
    # The id ends up in a URL path (attach): keep it to URL-safe characters.
    if not re.fullmatch(r"[A-Za-z0-9._~-]{1,128}", text):
        raise argparse.ArgumentTypeError(f"{text!r}: use 1 to 128 letters, digits or ._~-")
    return text


def duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m queue.task_submitter", description=__doc__.splitlines()[0])
    parser.add_argument("task_id", type=task_id, help="the task id, also the idempotency key")
    parser.add_argument("--task", default="some heavy work", help="what to do (default: %(default)s)")
    parser.add_argument("--delay", type=duration, help="run the task this much later (e.g. 10s, 500ms, 2m)")
    args = parser.parse_args()
    try:
        asyncio.run(main(TaskOpts(id=args.task_id, task=args.task), args.delay))
    except httpx.TransportError as error:
        sys.exit(f"error: Restate is unreachable at {settings().ingress_url} ({error!r}); is restate-server running?")
    except httpx.HTTPStatusError as error:
        sys.exit(f"error: Restate answered {error.response.status_code}: {error.response.text}")
