"""Console output of the example programs (stdout, as the TypeScript examples' console.log)."""

import json
from typing import Any


def say(line: str) -> None:
    print(line + "\n", end="", flush=True)  # noqa: T201  (one write: lines of parallel processes stay whole)


def show(value: Any) -> str:
    """A value as the TypeScript examples print it: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)
