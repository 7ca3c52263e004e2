"""Test helpers on top of the `patterns` toolkit: a Restate server (native or Docker), deployments of a
pattern's app served in this process, state reads through the admin SQL API, polling and log capture."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest

from patterns.cluster import RestateCluster
from patterns.httpclient import http
from patterns.process import ManagedProcess, free_port, http_ok
from patterns.registration import register
from patterns.restate_server import RestateServer
from patterns.serving import BackgroundServer
from patterns.signing import SERVER_KEY_ENV

T = TypeVar("T")


class Startable(Protocol):
    def start(self) -> Any: ...


S = TypeVar("S", bound=Startable)


def started_on_free_ports(make: Callable[[int], S], attempts: int = 3) -> S:
    """`make(attempt)` builds a launcher on free ports, which are free when picked: another process may take
    one before the launcher binds it. Start it, and on that rare clash build and start another."""
    for attempt in range(attempts):
        launcher = make(attempt)
        try:
            launcher.start()
            return launcher
        except RuntimeError:  # ProcessExited, or the port was taken before the start
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


class RestateBackend(Protocol):
    """What every test sees of the server, whichever way it runs."""

    ingress_url: str
    admin_url: str
    service_host: str  # where deployments bind so that the server reaches them

    def deployment_url(self, port: int) -> str: ...

    def stop(self) -> None: ...


class NativeRestate:
    """restate-server from the npm package, on free ports of 127.0.0.1."""

    service_host = "127.0.0.1"

    def __init__(self, base_dir: Path, settings: Mapping[str, str]) -> None:
        self.server = started_on_free_ports(
            lambda attempt: RestateServer.on_free_ports(base_dir / f"attempt-{attempt}", settings=settings)
        )
        self.ingress_url, self.admin_url = self.server.ingress_url, self.server.admin_url

    def deployment_url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def restart(self, kill: bool = False) -> None:
        """Stop (SIGTERM, or SIGKILL like a crash) and start again: same ports, same data."""
        if kill:
            self.server.kill()
        else:
            self.server.stop()
        self.server.start()

    def stop(self) -> None:
        self.server.stop()


class ClusterRestate:
    """A cluster of native restate-server nodes (`patterns.cluster`) on free ports of 127.0.0.1.

    What tests see by default is node 1 (`ingress_url`, `admin_url`); `cluster` has every node, to spread
    calls over their ingresses or to kill one."""

    service_host = "127.0.0.1"

    def __init__(self, base_dir: Path, settings: Mapping[str, str], size: int = 3) -> None:
        self.cluster = started_on_free_ports(
            lambda attempt: RestateCluster.on_free_ports(base_dir / f"attempt-{attempt}", size, settings)
        )
        self.ingress_url, self.admin_url = self.cluster.ingress_urls[0], self.cluster.admin_urls[0]

    def deployment_url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def restart(self, kill: bool = False) -> None:
        """Stop every node at once (SIGTERM, or SIGKILL like a power cut) and start them again."""
        if kill:
            for index in range(len(self.cluster.nodes)):
                self.cluster.kill(index)
        else:
            self.cluster.stop()
        self.cluster.start()

    def stop(self) -> None:
        self.cluster.stop()


class DockerRestate:
    """The restatedev/restate image through testcontainers (`pytest --restate=docker`, needs a Docker engine).

    Not exercised on the project's CI machine, which has no Docker engine.
    """

    image = "docker.io/restatedev/restate:1.7.12"
    service_host = "0.0.0.0"  # the container reaches this process through host.docker.internal

    def __init__(self, settings: Mapping[str, str]) -> None:
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.waiting_utils import wait_for_logs

        container = DockerContainer(self.image).with_exposed_ports(8080, 9070)
        container = container.with_kwargs(extra_hosts={"host.docker.internal": "host-gateway"})
        for key, value in settings.items():
            if key == SERVER_KEY_ENV:  # the signing key, from the host into the container
                container = container.with_volume_mapping(value, "/request-identity.pem")
                value = "/request-identity.pem"
            container = container.with_env(key, value)
        self.container = container.start()
        wait_for_logs(self.container, "Ingress HTTP listening", timeout=60)
        host = self.container.get_container_host_ip()
        self.ingress_url = f"http://{host}:{self.container.get_exposed_port(8080)}"
        self.admin_url = f"http://{host}:{self.container.get_exposed_port(9070)}"

    def deployment_url(self, port: int) -> str:
        return f"http://host.docker.internal:{port}"

    def stop(self) -> None:
        self.container.stop()


def docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@dataclass(frozen=True)
class Deployment:
    """A pattern's app served in this process and registered with the test server."""

    restate: RestateBackend
    url: str
    services: list[str]

    @property
    def ingress_url(self) -> str:
        return self.restate.ingress_url

    @property
    def admin_url(self) -> str:
        return self.restate.admin_url

    def state(self, service: str, key: str) -> dict[str, Any]:
        return state(self.restate.admin_url, service, key)


@contextmanager
def deployed(restate: RestateBackend, app: Any) -> Iterator[Deployment]:
    """Serve `app` on a free port and register it, with force: some TypeScript service names are shared by
    two patterns (`payments`, `PaymentTracker`, `myService`), and the module under test must own them now."""
    port = free_port()
    with BackgroundServer(app, restate.service_host, port) as server:
        services = register(restate.admin_url, restate.deployment_url(port))
        yield Deployment(restate, server.url, services)


class Deploy(Protocol):
    """The `deploy` fixture (tests/conftest.py): `deploy("sagas.app:app", env=..., on=...)`."""

    def __call__(
        self, target: str, *, env: Mapping[str, str] | None = None, on: RestateBackend | None = None
    ) -> Deployment: ...


def unique(prefix: str) -> str:
    """A fresh id for one test (`unique("trip")` -> `trip-3f9c0a1b2c4d`), so tests never share state.
    A prefix that ends with `_` or `-` is used as it is (`unique("in_")` -> `in_3f9c0a1b2c4d`)."""
    return f"{prefix}{'' if prefix.endswith(('_', '-')) else '-'}{uuid.uuid4().hex[:12]}"


class ServiceProcess(ManagedProcess):
    """A pattern served by its own command (`python -m <module>`) in a child process, registered.

    For what needs a real process: SIGKILL and restart (durability), the `queue` pattern (never imported
    into the test process), log lines of another process (`lines`, `count()`). Restarts keep the port, so the
    deployment registered at the first start still points at it. `register=False`: serve only.
    """

    def __init__(
        self, restate: RestateBackend, module: str, env: Mapping[str, str] | None = None, register: bool = True
    ) -> None:
        self.restate, self.module, self.register = restate, module, register
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {
            "SERVICE_HOST": restate.service_host,
            "SERVICE_PORT": str(self.port),
            "RESTATE_INGRESS_URL": restate.ingress_url,
            "RESTATE_ADMIN_URL": restate.admin_url,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        super().__init__(
            module,
            [sys.executable, "-m", module],
            env=environment,
            ready=lambda: http_ok(f"{self.url}/health"),
            stop_timeout=10,
        )

    def start(self, timeout: float = 30.0, wait: bool = True) -> ServiceProcess:
        """Start, wait until it serves, and register it (the first time)."""
        super().start(timeout, wait)
        if wait and self.register:
            register(self.restate.admin_url, self.restate.deployment_url(self.port))
            self.register = False  # a restart serves the same port: the registration still holds
        return self


def sql(admin_url: str, query: str, throttled_for: float = 20.0) -> list[dict[str, Any]]:
    """Run a query on the admin SQL endpoint (what `restate kv get` and `restate sql` use).

    On a cluster that just lost a node, the survivors answer "connect throttled" for a few seconds while
    they stop trying the dead one: asked again until `throttled_for` seconds have passed."""
    deadline = time.monotonic() + throttled_for
    while True:
        response = http.post(
            f"{admin_url}/query", json={"query": query}, headers={"accept": "application/json"}, timeout=10
        )
        if "connect throttled" not in response.text or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    response.raise_for_status()
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def state(admin_url: str, service: str, key: str) -> dict[str, Any]:
    """The K/V state of one virtual object (or workflow) instance, values decoded from JSON."""
    rows = sql(
        admin_url,
        f"select key, value_utf8 from state where service_name = {_quote(service)} and service_key = {_quote(key)}",
    )
    return {row["key"]: json.loads(row["value_utf8"]) for row in rows}


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Call `check` until it returns without an AssertionError (and, if it returns a value, a truthy one).
    The pause between calls grows from `interval` to 0.2 s: a check is often an admin SQL query (~8 ms of
    restate-server's CPU): asked every 50 ms for a long wait, that is a fifth of a core."""
    deadline = time.monotonic() + timeout
    longest = max(interval, 0.2)
    while True:
        try:
            result = check()
            if result is None or result:
                return result
            error: AssertionError = AssertionError(f"{check} returned {result!r}")
        except AssertionError as failure:
            error = failure
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {error}") from error
        time.sleep(interval)
        interval = min(interval * 1.5, longest)


class Logs:
    """The log records of the current test, from every thread of this process (handlers run in-process)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def messages(self, logger: str = "") -> list[str]:
        return [r.getMessage() for r in self._caplog.records if r.name.startswith(logger)]

    def count(self, message: str, logger: str = "") -> int:
        return self.messages(logger).count(message)

    def containing(self, text: str, logger: str = "") -> list[str]:
        return [m for m in self.messages(logger) if text in m]
