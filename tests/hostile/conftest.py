"""A restate-server per hostile test module (of their own: the state and invocation checks need a quiet
server), every pattern served on demand from its own code, and a relay to reach private handlers.

Module scope, not package scope: pytest finalizes package fixtures only at the end of the session, and the
environment set for the patterns here must not leak into the other tests."""

from __future__ import annotations

import base64
import importlib
import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from patterns.catalogue import Pattern, load_patterns
from patterns.postgres import PostgresServer
from patterns.restate_server import ALWAYS_REPLAY, SMALL
from patterns.signing import server_settings
from tests.harness import NativeRestate, ServiceProcess, deployed, eventually
from tests.hostile import relay

# Fast and deterministic where the patterns simulate work and failures (read by the services in this
# process at call time; passed to the ones served by a child process).
PACE = {"PATTERNS_TIME_SCALE": "0.001", "PATTERNS_FAILURES": "0"}


@pytest.fixture(scope="module")
def hostile_restate(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory, identity_key: Path
) -> Iterator[NativeRestate]:
    """Default retry policy (no fail-fast kill): an invocation that keeps failing stays visible as
    `backing-off` instead of ending as a 500. Signing, as every server of the tests."""
    settings = {**SMALL, **server_settings(identity_key)}
    if pytestconfig.getoption("--always-replay"):
        settings.update(ALWAYS_REPLAY)
    server = NativeRestate(tmp_path_factory.mktemp("restate-hostile"), settings)
    try:
        yield server
    finally:
        server.stop()


@cache
def catalogue() -> dict[str, Pattern]:
    """Every pattern with its services, from their discovery manifests (read once per test run)."""
    return {pattern.name: pattern for pattern in load_patterns()}


@pytest.fixture(scope="module")
def pace() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in PACE.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def relayed(hostile_restate: NativeRestate) -> Iterator[None]:
    with deployed(hostile_restate, relay.app):
        yield


def infrastructure(request: pytest.FixtureRequest, patterns: list[Pattern]) -> dict[str, str]:
    """What the patterns' handlers need when they are called over HTTP, started (the session's fixtures) and
    set up; returns the environment for the services. Kafka and Stripe only feed subscriptions and webhooks,
    which these tests do not use: of the NEEDS, only PostgreSQL is needed (the database pattern's reads)."""
    env: dict[str, str] = {}
    if any("postgres" in pattern.needs for pattern in patterns):
        postgres: PostgresServer = request.getfixturevalue("postgres")
        postgres.run_sql_files(sorted(path for pattern in patterns for path in (pattern.path / "db").glob("*.sql")))
        env.update(postgres.service_env())
    return env


def serve(restate: NativeRestate, name: str) -> AbstractContextManager[Any]:
    """Serve a pattern and register it (with force: it takes over service names another pattern shares).
    In this process, except a pattern named like a standard library module (`queue`): a child process."""
    if name in sys.stdlib_module_names:
        return ServiceProcess(restate, name, env=PACE)
    return deployed(restate, importlib.import_module(f"{name}.app").app)


@contextmanager
def served(restate: NativeRestate, name: str) -> Iterator[None]:
    """Serve a pattern for a test, and leave the server quiet: the next test may register a pattern that
    takes over a service name, and a delayed call still due would then find no handler."""
    with serve(restate, name):
        yield
        services = sorted(catalogue()[name].service_names)
        eventually(lambda: not unfinished(restate.admin_url, services) and not scheduled(restate.admin_url, services))


# One client for the many admin queries: a new one per query costs a TLS context each time (~0.1 s of CPU).
_admin = httpx.Client(timeout=10)


def sql(admin_url: str, query: str) -> list[dict[str, Any]]:
    response = _admin.post(f"{admin_url}/query", json={"query": query}, headers={"accept": "application/json"})
    response.raise_for_status()
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


def state(admin_url: str, service: str, key: str) -> dict[str, Any]:
    """The state of one object, values decoded from JSON."""
    rows = sql(
        admin_url,
        f"select key, value_utf8 from state where service_name = {quoted([service])} and service_key = {quoted([key])}",
    )
    return {row["key"]: json.loads(row["value_utf8"]) for row in rows}


def fresh_key(prefix: str = "k") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def quoted(values: list[str]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def state_rows(admin_url: str, services: list[str]) -> list[tuple[str, str, str, str]]:
    rows = sql(
        admin_url,
        f"select service_name, service_key, key, value_utf8 from state where service_name in ({quoted(services)})",
    )
    return sorted((r["service_name"], r["service_key"], r["key"], r["value_utf8"] or "") for r in rows)


def unfinished(admin_url: str, services: list[str]) -> list[dict[str, Any]]:
    """Invocations of these services that are not completed (with why, if they are retrying). Delayed calls
    waiting for their time (`scheduled`, e.g. a payment's expiry) are not counted: they are not stuck."""
    return sql(
        admin_url,
        "select id, target, status, last_failure from sys_invocation "
        f"where status not in ('completed', 'scheduled') and target_service_name in ({quoted(services)})",
    )


def settled(admin_url: str, services: list[str]) -> None:
    """Every invocation of these services completes (one-way calls may still be on their way); an invocation
    that is stuck, retrying for ever, fails this after a while, with its last failure."""

    def check() -> None:
        rows = unfinished(admin_url, services)
        assert rows == [], rows

    eventually(check)


def scheduled(admin_url: str, services: list[str]) -> set[str]:
    rows = sql(
        admin_url,
        f"select id from sys_invocation where status = 'scheduled' and target_service_name in ({quoted(services)})",
    )
    return {row["id"] for row in rows}


async def relay_call(
    http: httpx.AsyncClient, service: str, handler: str, body: bytes, key: str | None = None
) -> tuple[int, str]:
    """Call a handler from inside Restate (through the relay): its status code and body or message."""
    request = {"service": service, "handler": handler, "key": key, "body": base64.b64encode(body).decode()}
    response = await http.post(f"/{relay.RELAY}/call", json=request)
    response.raise_for_status()
    answer = response.json()
    return int(answer["status"]), str(answer["body"])
