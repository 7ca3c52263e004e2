"""Which patterns exist, which services each one defines, and which of them collide.

A pattern is a top-level folder with an `app.py` (the Restate endpoint) and a `__main__.py`
(`python -m <pattern>`); an optional `api.py` is its FastAPI front end. No list to keep by hand.

Service definitions are read from each app's own discovery manifest, computed in a child process
started in the repository root, so this process never imports pattern code (and the `queue` folder
never meets an already-imported standard library `queue`).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patterns import REPO_ROOT
from patterns.registration import MANIFEST_ACCEPT, Service, parse_services


@dataclass(frozen=True)
class Pattern:
    name: str
    services: tuple[Service, ...] = ()
    needs: tuple[str, ...] = ()  # infrastructure for the dev runner, from the package's NEEDS (patterns.extras)
    # Kafka subscriptions the dev runner creates, from the package's SUBSCRIPTIONS: (topic, "service/handler").
    subscriptions: tuple[tuple[str, str], ...] = ()
    # Where an extra sends its webhooks, from the package's WEBHOOKS: (extra, "service/handler").
    webhooks: tuple[tuple[str, str], ...] = ()

    @property
    def path(self) -> Path:
        return REPO_ROOT / self.name

    @property
    def has_api(self) -> bool:
        return (self.path / "api.py").exists()

    @property
    def service_names(self) -> set[str]:
        return {service.name for service in self.services}


def pattern_names(root: Path = REPO_ROOT) -> list[str]:
    return sorted(
        d.name
        for d in root.iterdir()
        if d.is_dir() and d.name != "patterns" and (d / "app.py").exists() and (d / "__main__.py").exists()
    )


def load_patterns(names: list[str] | None = None, services: bool = True) -> list[Pattern]:
    """The patterns (all, or the ones named) with their services (unless `services=False`: then only what
    their `__init__.py` declares, without importing their apps), in alphabetical order."""
    names = sorted(names if names is not None else pattern_names())
    if not names:
        return []
    result = subprocess.run(
        [sys.executable, "-m", "patterns.catalogue", *names] + ([] if services else ["--declarations"]),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"reading the service definitions failed:\n{result.stderr.strip()}")
    found: dict[str, Any] = json.loads(result.stdout)
    return [
        Pattern(
            name,
            tuple(parse_services(found[name]["manifest"])),
            tuple(found[name]["needs"]),
            tuple(found[name]["subscriptions"].items()),
            tuple(found[name]["webhooks"].items()),
        )
        for name in names
    ]


@dataclass(frozen=True)
class Collision:
    pattern: str
    services: tuple[str, ...]
    taken_by: str


def resolve_collisions(patterns: list[Pattern]) -> tuple[list[Pattern], list[Collision]]:
    """Keep patterns in order; leave out any pattern that defines a service name an earlier one has.

    On one restate-server a service name belongs to one deployment: registering a second pattern that
    uses the same name would silently take it over and break the first pattern.
    """
    kept: list[Pattern] = []
    left_out: list[Collision] = []
    owners: dict[str, str] = {}
    for pattern in patterns:
        clashes = sorted(pattern.service_names & owners.keys())
        if clashes:
            left_out.append(Collision(pattern.name, tuple(clashes), owners[clashes[0]]))
            continue
        kept.append(pattern)
        owners.update(dict.fromkeys(pattern.service_names, pattern.name))
    return kept, left_out


async def _manifest(app: Any) -> dict[str, Any]:
    """Ask an ASGI Restate endpoint for its discovery manifest, in memory."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "2",
        "method": "GET",
        "scheme": "http",
        "path": "/discover",
        "raw_path": b"/discover",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"accept", MANIFEST_ACCEPT.encode())],
        "server": ("127.0.0.1", 0),
        "client": ("127.0.0.1", 0),
    }
    body = bytearray()
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    if status != 200:
        raise RuntimeError(f"discovery answered HTTP {status}: {bytes(body).decode(errors='replace')}")
    manifest: dict[str, Any] = json.loads(body)
    return manifest


def _main(args: list[str]) -> None:
    import importlib

    found = {}
    for name in [arg for arg in args if not arg.startswith("--")]:
        package = importlib.import_module(name)
        app = None if "--declarations" in args else importlib.import_module(f"{name}.app").app
        found[name] = {
            "manifest": asyncio.run(_manifest(app)) if app else {},
            "needs": list(getattr(package, "NEEDS", ())),
            "subscriptions": dict(getattr(package, "SUBSCRIPTIONS", {})),
            "webhooks": dict(getattr(package, "WEBHOOKS", {})),
        }
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    _main(sys.argv[1:])
