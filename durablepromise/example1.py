"""`python -m durablepromise.example1 [promise-id] [restate-uri]`: peek, await, resolve and reject one promise.

The TypeScript example `1_example.ts`: the first completion wins, so the rejection after the resolve
returns the resolved value, and the waiting `get()` sees it too. Run it twice: the second run peeks the
value stored by the first.
"""

from __future__ import annotations

import asyncio
import sys

from durablepromise._output import say, show
from durablepromise.clients import durable_promise
from patterns.settings import settings


async def main(promise_id: str = "my-durable-promise-id", ingress_url: str | None = None) -> None:
    promise = durable_promise(promise_id, ingress_url or settings().ingress_url)

    # check the promise without blocking
    say(f"Peeked value: {show(await promise.peek())}")

    # await the result (in the background: it completes once somebody resolves the promise)
    waiting = asyncio.create_task(promise.get())

    # complete the promise; if we are the first to complete, the actual result is our value
    say(f"Actual result after completing: {show(await promise.resolve('This promise will notify everyone'))}")

    # likewise for rejections: the promise is already completed, so we get its value back
    say(f"Actual result after rejection: {show(await promise.reject('Oh dear, rejected'))}")

    say(f"Result value: {show(await waiting)}")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3]))
