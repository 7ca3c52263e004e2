"""`python -m durablepromise.example2 [promise-id] [restate-uri] [--role resolve|await]`: one process that
either resolves the promise (30 % of the time, as upstream) or awaits it. The TypeScript `2_example_process.ts`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random

from durablepromise._output import say, show
from durablepromise.clients import durable_promise
from patterns.settings import settings


async def main(promise_id: str, ingress_url: str, role: str) -> None:
    pid = os.getpid()
    promise = durable_promise(promise_id, ingress_url)
    say(f"{pid} will {role.upper()} the promise")
    say(f"{pid} : Peek '{promise_id}' = '{show(await promise.peek())}'")
    if role == "resolve":
        say(f"{pid} : Resolving '{promise_id}' to 'Completed by {pid}'")
        result = await promise.resolve(f"Completed by {pid}")
        say(f"{pid} : '{promise_id}' actually resolved to '{show(result)}'")
    else:
        say(f"{pid} : Awaiting '{promise_id}'...")
        result = await promise.get()
        say(f"{pid} : Got result for '{promise_id}' = '{show(result)}'")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m durablepromise.example2", description=__doc__.splitlines()[0])
    parser.add_argument("promise_id", nargs="?", default="my-example-2-id")
    parser.add_argument("ingress_url", nargs="?", default=None, help="default: RESTATE_INGRESS_URL or :8080")
    parser.add_argument("--role", choices=("resolve", "await"), help="default: resolve 30 %% of the time")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse()
    role = args.role or ("resolve" if random.random() < 0.3 else "await")
    asyncio.run(main(args.promise_id, args.ingress_url or settings().ingress_url, role))
