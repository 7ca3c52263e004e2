"""Signed requests (`patterns.signing`): restate-server signs every request with the run's key (the session
fixture `identity_key`), the services verify it, and a request that does not come from restate-server runs
nothing: 401, for both servers of `python -m <pattern>` and for a service served in the test process.
A by-hand run without the key serves unsigned requests, as before, and only on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from patterns import REPO_ROOT
from patterns.httpclient import http
from patterns.process import ManagedProcess, free_port, http_ok
from patterns.registration import register
from patterns.restate_server import SMALL, find_binary
from patterns.signing import KEY_FILE, KEYS_ENV, base58, public_key
from tests.harness import ClusterRestate, NativeRestate, RestateBackend, ServiceProcess, deployed
from tests.readme import steps

# What anyone who reaches a service port could send: a protocol frame for a handler, and a discovery request.
UNSIGNED = [("POST", "/invoke/product/reserve"), ("GET", "/discover")]
HEADERS = {
    "content-type": "application/vnd.restate.invocation.v5",
    "accept": "application/vnd.restate.endpointmanifest.v3+json",
}


def unsigned_statuses(service_url: str) -> list[int]:
    return [
        http.request(method, service_url + path, headers=HEADERS, timeout=10).status_code for method, path in UNSIGNED
    ]


def reserve(restate: RestateBackend, product: str) -> object:
    return http.post(f"{restate.ingress_url}/product/{product}/reserve", timeout=30).json()


def test_the_public_key_is_the_one_every_restate_server_node_signs_with(
    restate: RestateBackend, identity_key: Path
) -> None:
    if isinstance(restate, ClusterRestate):
        logs = [node.base_dir / "restate-server.log" for node in restate.cluster.nodes]
    elif isinstance(restate, NativeRestate):
        logs = [restate.server.base_dir / "restate-server.log"]
    else:
        pytest.skip("the server's log is read from its base dir (native backend)")
    kid = f'kid: "{public_key(identity_key)}"'
    assert [log.name for log in logs if kid not in log.read_text()] == []


def test_base58_keeps_leading_zero_bytes() -> None:
    assert base58(b"\0\0\x01") == "112"
    assert base58(bytes([255] * 4)) == "7YXq9G"


@pytest.mark.parametrize("server", ["granian", "hypercorn"])
def test_a_pattern_process_answers_only_requests_signed_by_restate_server(restate: RestateBackend, server: str) -> None:
    product = f"signed-{server}-{time.monotonic_ns()}"
    with ServiceProcess(restate, "durablerpc", env={"PATTERNS_SERVER": server}) as service:  # registered: signed
        assert reserve(restate, product) is True
        assert unsigned_statuses(service.url) == [401, 401]
        assert http.get(f"{service.url}/health", timeout=10).status_code == 200  # health stays open
        assert reserve(restate, product) is False
    assert service.count(f"Reserving product {product}") == 1


def test_a_service_served_in_the_test_process_answers_only_signed_requests(restate: RestateBackend) -> None:
    from durablerpc.app import app

    product = f"signed-in-process-{time.monotonic_ns()}"
    with deployed(restate, app) as deployment:
        assert reserve(restate, product) is True
        assert unsigned_statuses(deployment.url) == [401, 401]


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as in /proc/net/tcp) of the sockets listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_a_by_hand_run_without_the_key_serves_unsigned_requests_on_127_0_0_1_only(
    restate: RestateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SERVICE_HOST", raising=False)  # as a reader types it: `python -m durablerpc`
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service = ManagedProcess(
        "durablerpc",
        [sys.executable, "-m", "durablerpc"],
        env={"SERVICE_PORT": str(port), KEYS_ENV: ""},  # no public key: no check
        ready=lambda: http_ok(f"{url}/health"),
    )
    with service:
        assert listening_addresses(port) == {socket.inet_aton("127.0.0.1")[::-1].hex().upper()}
        assert register(restate.admin_url, url) == ["product"]  # a signing server is fine too
        assert reserve(restate, f"unsigned-{time.monotonic_ns()}") is True
        manifest = http.get(f"{url}/discover", headers=HEADERS, timeout=10).json()
        assert [service["name"] for service in manifest["services"]] == ["product"]
        assert unsigned_statuses(url) == [500, 200]  # the frame reaches the SDK (which refuses it as malformed)


def test_the_readme_by_hand_lines_start_a_signing_server_and_a_verifying_pattern(tmp_path: Path) -> None:
    """The README's "Signed requests" lines, as typed from the repository root: `python -m patterns identity-key`,
    then its `shell start` lines. `npx restate-server` is the same binary run directly (so that it is stopped by
    its PID), with its data and ports moved by restate-server's own environment variables."""
    readme = steps(REPO_ROOT / "README.md")
    index = next(i for i, step in enumerate(readme) if step.commands == ("python -m patterns identity-key",))
    server_line, service_line = readme[index + 1].commands
    assert readme[index + 1].start and "npx restate-server" in server_line and "python -m durablerpc" in service_line
    python_first = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    printed = subprocess.run(
        ["bash", "-c", readme[index].commands[0]],
        cwd=REPO_ROOT,
        env={**os.environ, **python_first},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert printed == public_key(REPO_ROOT / ".restate" / KEY_FILE)

    ingress, admin, node, port = free_port(), free_port(), free_port(), free_port()
    server = ManagedProcess(
        "restate-server",
        ["bash", "-c", "exec env " + server_line.replace("npx restate-server", f"{find_binary()} --no-logo")],
        env={
            **SMALL,
            "RESTATE_BASE_DIR": str(tmp_path),
            "RESTATE_INGRESS__BIND_ADDRESS": f"127.0.0.1:{ingress}",
            "RESTATE_ADMIN__BIND_ADDRESS": f"127.0.0.1:{admin}",
            "RESTATE_BIND_ADDRESS": f"127.0.0.1:{node}",
            "RESTATE_LISTEN_MODE": "tcp",
            "TMPDIR": str(tmp_path),  # (its invoker's temp folders, left at every start)
        },
        log=tmp_path / "restate-server.log",
        ready=lambda: (
            http_ok(f"http://127.0.0.1:{admin}/health") and http_ok(f"http://127.0.0.1:{ingress}/restate/health")
        ),
    )
    service = ManagedProcess(
        "durablerpc",
        ["bash", "-c", "exec env " + service_line],
        env={**python_first, "SERVICE_PORT": str(port), KEYS_ENV: "not set by the test"},  # the line sets it
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/health"),
    )
    with server, service:
        assert f'kid: "{printed}"' in (tmp_path / "restate-server.log").read_text()
        assert register(f"http://127.0.0.1:{admin}", f"http://127.0.0.1:{port}") == ["product"]
        product = f"readme-{time.monotonic_ns()}"
        assert http.post(f"http://127.0.0.1:{ingress}/product/{product}/reserve", timeout=30).json() is True
        assert unsigned_statuses(f"http://127.0.0.1:{port}") == [401, 401]
