"""The bad-input matrix: every handler of every pattern, from the services' own discovery manifests.

For each pattern (a new handler or pattern is covered without editing this file):
- every public handler gets the bad requests of `cases.py` through the ingress;
- every ingress-private handler is refused through the ingress, and gets the same bad requests from inside
  Restate (through the relay), as a buggy caller of the same cluster would send them;
each answers 4xx with a message; afterwards the pattern's state is unchanged and none of its invocations is
left anything but completed (`sys_invocation`).
Handlers without input accept what the TypeScript clients send: a bare POST, an empty JSON body, `null`.
The patterns are served in as few rounds as their shared service names allow, all requests of a round at once.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack

import httpx
import pytest

from patterns.catalogue import Pattern
from patterns.registration import Handler, Service
from tests.harness import NativeRestate
from tests.hostile.cases import HUGE, Case, cases_for, dumps, path_of
from tests.hostile.conftest import (
    catalogue,
    fresh_key,
    infrastructure,
    relay_call,
    scheduled,
    served,
    settled,
    state_rows,
)
from tests.hostile.relay import RELAY

CONCURRENCY = 24
LIMITS = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)

Check = Callable[[], Awaitable[str | None]]  # a request and its verdict: None if fine, else what went wrong


def through_ingress(http: httpx.AsyncClient, service: Service, handler: Handler, case: Case) -> Check:
    async def check() -> str | None:
        headers = {"content-type": case.content_type} if case.content_type else {}
        path = path_of(service, handler, case, fresh_key())
        response = await http.post(path, content=case.body or b"", headers=headers)
        if not 400 <= response.status_code < 500:
            return f"HTTP {response.status_code}: {response.text[:300]}"
        try:
            message = response.json().get("message")
        except ValueError:
            message = None
        if not message:
            return f"HTTP {response.status_code} without a message: {response.text[:300]}"
        return None

    return check


def through_relay(http: httpx.AsyncClient, service: Service, handler: Handler, case: Case) -> Check:
    async def check() -> str | None:
        key = (fresh_key() if case.key is None else case.key) if service.keyed else None
        status, message = await relay_call(http, service.name, handler.name, case.body or b"", key)
        if not 400 <= status < 500 or not message:
            return f"status {status}: {message[:300]}"
        return None

    return check


async def run_all(checks: dict[str, Check]) -> dict[str, str]:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(check: Check) -> str | None:
        async with limit:
            try:
                return await check()
            except httpx.HTTPError as error:
                return f"{type(error).__name__}: {error}"

    verdicts = await asyncio.gather(*(one(check) for check in checks.values()))
    return {name: verdict for name, verdict in zip(checks, verdicts, strict=True) if verdict}


def matrix(pattern: Pattern, http: httpx.AsyncClient) -> dict[str, Check]:
    checks: dict[str, Check] = {}
    for service in pattern.services:
        # The size limit, the key rule and the strict JSON parse are the service's (bad_input_is_400): those
        # cases go to one handler per service (the first public one that takes JSON, and for keys the first).
        per_service_sent: set[str] = set()
        for handler in service.handlers:
            cases = []
            for case in cases_for(service, handler):
                family = "5 MB" if case.name.startswith("5 MB") else case.name
                if case.per_service and not handler.ingress_private:
                    if family in per_service_sent:
                        continue
                    per_service_sent.add(family)
                cases.append(case)
            if handler.ingress_private:
                refused = Case("through the ingress (private)", dumps(None) if handler.input_schema else None)
                checks[refused.describe(service, handler)] = through_ingress(http, service, handler, refused)
                for case in cases:
                    if case.relayed and not case.edge_only:
                        checks[f"{case.describe(service, handler)} (relayed)"] = through_relay(
                            http, service, handler, case
                        )
            else:
                for case in cases:
                    checks[case.describe(service, handler)] = through_ingress(http, service, handler, case)
    return checks


def cpu_seconds(restate: NativeRestate) -> tuple[float, float]:
    """CPU time used so far by this process (tests and in-process services) and by restate-server."""
    with open(f"/proc/{restate.server.pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return time.process_time(), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rounds() -> list[list[Pattern]]:
    """The patterns in as few groups as possible whose service names do not collide (`payments`,
    `PaymentTracker`, `myService` belong to two patterns each): each group is served at once."""
    groups: list[list[Pattern]] = []
    for pattern in catalogue().values():
        group = next((g for g in groups if not any(pattern.service_names & other.service_names for other in g)), None)
        if group is None:
            groups.append(group := [])
        group.append(pattern)
    return groups


def no_input_handlers(pattern: Pattern) -> list[tuple[Service, Handler]]:
    return [
        (service, handler)
        for service in pattern.services
        for handler in service.handlers
        if handler.input_schema is None and not handler.ingress_private
    ]


async def what_clients_send(http: httpx.AsyncClient, patterns: list[Pattern]) -> dict[str, str]:
    """Every public handler without input, called as the clients call it: a bare POST, `content-type:
    application/json` with an empty body (the TypeScript clients), and `null`. Returns the refusals."""
    variants = {"bare POST": (b"", {}), "empty JSON body": (b"", {"content-type": "application/json"})}
    variants["null"] = (b"null", {"content-type": "application/json"})

    async def call(service: Service, handler: Handler, body: bytes, headers: dict[str, str]) -> str:
        key = f"/{fresh_key('no-input')}" if service.keyed else ""
        response = await http.post(f"/{service.name}{key}/{handler.name}", content=body, headers=headers)
        return f"{response.status_code} {response.text[:200]}"

    calls = {
        f"{service.name}/{handler.name}: {variant}": call(service, handler, *request)
        for pattern in patterns
        for service, handler in no_input_handlers(pattern)
        for variant, request in variants.items()
    }
    answers = dict(zip(calls, await asyncio.gather(*calls.values()), strict=True))
    # Accepted: anything but a refusal of the input (400, 415) or an error. (A business answer such as the
    # rate limiter's 429 is an accepted call.)
    return {call: answer for call, answer in answers.items() if answer[:3] in ("400", "415") or answer[0] == "5"}


@pytest.mark.timeout(600)  # hundreds of requests: minutes on a machine busy with other work
@pytest.mark.parametrize("patterns", rounds(), ids=lambda group: "+".join(p.name for p in group))
async def test_bad_input_is_refused_and_changes_nothing(
    patterns: list[Pattern],
    hostile_restate: NativeRestate,
    pace: None,
    relayed: None,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = sorted(name for pattern in patterns for name in pattern.service_names)
    admin = hostile_restate.admin_url
    for name, value in infrastructure(request, patterns).items():
        monkeypatch.setenv(name, value)
    with ExitStack() as serving:
        for pattern in patterns:
            serving.enter_context(served(hostile_restate, pattern.name))
        before, delayed = state_rows(admin, services), scheduled(admin, services)
        async with httpx.AsyncClient(base_url=hostile_restate.ingress_url, timeout=30, limits=LIMITS) as http:
            checks = {case: check for pattern in patterns for case, check in matrix(pattern, http).items()}
            started, cpu_before = time.monotonic(), cpu_seconds(hostile_restate)
            failures = await run_all(checks)
            wall = time.monotonic() - started
            cpu = [after - before for before, after in zip(cpu_before, cpu_seconds(hostile_restate), strict=True)]
            handlers = sum(len(service.handlers) for pattern in patterns for service in pattern.services)
            print(  # noqa: T201  (the matrix's size and cost, shown with -s)
                f"\n{len(checks)} bad requests to {handlers} handlers in {wall:.1f}s "
                f"(CPU: {cpu[0]:.1f}s this process, {cpu[1]:.1f}s restate-server)"
            )
            assert not failures, "\n".join(f"{case}: {verdict}" for case, verdict in sorted(failures.items()))
            assert state_rows(admin, services) == before
            settled(admin, [*services, RELAY])
            assert scheduled(admin, services) <= delayed  # nothing new waits for later either

            assert await what_clients_send(http, patterns) == {}


def test_the_matrix_sends_what_it_says() -> None:
    """The generated cases really are what their names claim (a guard against a matrix that tests nothing)."""
    service = Service("s", "VIRTUAL_OBJECT", ())
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "count": {"type": "integer"}},
        "required": ["name"],
    }
    cases = {case.name: case for case in cases_for(service, Handler("h", "EXCLUSIVE", schema))}
    assert cases["10000-deep arrays"].body is not None and cases["10000-deep arrays"].body.count(b"[") == 10_000
    assert len(cases["5 MB in field name"].body or b"") > HUGE and "5 MB string" not in cases
    assert cases["missing field name"].body == b"{}"
    assert cases['field count = "x"'].body == b'{"name":"text","count":"x"}'
    assert cases["empty key"].key == "" and cases["empty key"].body == b'{"name":"text"}'
    assert {"wrong type null", 'wrong type "x"', 'wrong type [1, "x"]'} <= cases.keys()
    assert cases["NaN"].edge_only and cases["NaN"].per_service and not cases["malformed JSON"].edge_only
    no_input = {case.name for case in cases_for(service, Handler("h", "EXCLUSIVE", None))}
    assert 'input {"a": 1} for a handler without input' in no_input and "no body" not in no_input
