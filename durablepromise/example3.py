"""`python -m durablepromise.example3 [promise-id] [restate-uri] [n]`: n processes of example2 on one promise.

The TypeScript `3_example_parallel_processes.ts`: each process resolves (30 %) or awaits; every awaiter gets
the value of the first resolver. Unlike upstream, at least one process resolves (upstream all of them wait
forever when none draws "resolve").
"""

from __future__ import annotations

import random
import subprocess
import sys

from durablepromise._output import say
from patterns.settings import settings


def main(promise_id: str = "my-example-3-id", ingress_url: str | None = None, n: int = 10) -> int:
    ingress_url = ingress_url or settings().ingress_url
    roles = ["resolve" if random.random() < 0.3 else "await" for _ in range(n)]
    if "resolve" not in roles:
        roles[-1] = "resolve"
    say(f"Running {n} forks of the promise example process...")
    forks = [
        subprocess.Popen([sys.executable, "-m", "durablepromise.example2", promise_id, ingress_url, "--role", role])
        for role in roles
    ]
    codes = [fork.wait() for fork in forks]
    say("Done.")
    return max(codes)


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(
        main(
            args[0] if len(args) > 0 else "my-example-3-id",
            args[1] if len(args) > 1 else None,
            int(args[2]) if len(args) > 2 else 10,
        )
    )
