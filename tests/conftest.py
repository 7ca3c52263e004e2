"""Session fixtures: one Restate server for the whole run, per-test log capture."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from patterns.restate_server import ALWAYS_REPLAY, FAIL_FAST, SMALL, find_binary
from tests.harness import DockerRestate, Logs, NativeRestate, RestateBackend, docker_engine_answers


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


def pytest_report_header(config: pytest.Config) -> str:
    replay = ", always replay" if config.getoption("--always-replay") else ""
    return f"restate: {config.getoption('--restate')}{replay}"


@pytest.fixture(scope="session")
def restate_settings(pytestconfig: pytest.Config) -> dict[str, str]:
    """Server settings for tests: small, failing fast instead of retrying for minutes."""
    settings = {**SMALL, **FAIL_FAST}
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
        backend = NativeRestate(tmp_path_factory.mktemp("restate"), restate_settings)
    try:
        yield backend
    finally:
        backend.stop()


@pytest.fixture
def own_restate(
    pytestconfig: pytest.Config, tmp_path: Path, restate_settings: dict[str, str]
) -> Iterator[NativeRestate]:
    """A private native server for one test, for tests that restart or kill it."""
    if _backend_choice(pytestconfig) != "native":
        pytest.skip("restarting the server is only supported with the native backend")
    server = NativeRestate(tmp_path, restate_settings)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Logs:
    caplog.set_level(logging.INFO)
    return Logs(caplog)
