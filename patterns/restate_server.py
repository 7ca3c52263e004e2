"""Start and stop a native restate-server (the binary from the npm package), no Docker needed.

    with RestateServer(base_dir=Path(".restate")) as server:   # ports 8080/9070/5122 by default
        print(server.ingress_url, server.admin_url)

The binary is looked up in this order: $RESTATE_SERVER_BIN, the npm install in this repository
(`node_modules/@restatedev/restate-server-<os>-<arch>/bin/restate-server`), then `restate-server` on PATH.
The server is a `patterns.process.ManagedProcess`: own session, stopped by its PID (SIGTERM, then SIGKILL).
To sign every request to the services: `settings=patterns.signing.server_settings(key)` (on a cluster, the
same settings go to every node).
"""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from patterns import REPO_ROOT
from patterns.process import ManagedProcess, free_port, http_ok

# Fail fast instead of hanging: a handler bug is retried a few times, then the invocation is killed
# (the server default is 70 attempts, then pause). For tests, not for users.
FAIL_FAST = {
    "RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL": "50ms",
    "RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": "500ms",
    "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "8",
    "RESTATE_DEFAULT_RETRY_POLICY__ON_MAX_ATTEMPTS": "kill",
}
# Small footprint for throw-away servers (what the SDK's own test harness uses).
SMALL = {
    "RESTATE_DEFAULT_NUM_PARTITIONS": "2",
    "RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE": "128 MB",
}
# Every invocation is suspended and replayed at each await: flushes out non-deterministic handlers.
ALWAYS_REPLAY = {"RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT": "0s"}

_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}
_OS = {"Linux": "linux", "Darwin": "darwin"}


def _npm_binary() -> Path | None:
    arch, osname = _ARCH.get(platform.machine().lower()), _OS.get(platform.system())
    if not arch or not osname:
        return None
    path = REPO_ROOT / "node_modules" / "@restatedev" / f"restate-server-{osname}-{arch}" / "bin" / "restate-server"
    return path if path.exists() else None


def find_binary() -> str:
    """Path of the native `restate-server`."""
    if os.environ.get("RESTATE_SERVER_BIN"):
        return os.environ["RESTATE_SERVER_BIN"]
    found = _npm_binary() or shutil.which("restate-server")
    if not found:
        raise FileNotFoundError(
            f"restate-server not found: run `make install` (npm ci) in {REPO_ROOT}, put it on PATH, "
            "or set RESTATE_SERVER_BIN"
        )
    return str(found)


@dataclass
class RestateServer:
    base_dir: Path
    ingress_port: int = 8080
    admin_port: int = 9070
    node_port: int = 5122
    host: str = "127.0.0.1"
    settings: Mapping[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    process: ManagedProcess | None = field(default=None, init=False, repr=False)

    @classmethod
    def on_free_ports(cls, base_dir: Path, **kwargs: object) -> RestateServer:
        return cls(base_dir, free_port(), free_port(), free_port(), **kwargs)  # type: ignore[arg-type]

    @property
    def ingress_url(self) -> str:
        return f"http://{self.host}:{self.ingress_port}"

    @property
    def admin_url(self) -> str:
        return f"http://{self.host}:{self.admin_port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def environment(self) -> dict[str, str]:
        """What the server is started with, on top of this process's environment."""
        return {
            "RESTATE_INGRESS__BIND_ADDRESS": f"{self.host}:{self.ingress_port}",
            "RESTATE_ADMIN__BIND_ADDRESS": f"{self.host}:{self.admin_port}",
            "RESTATE_BIND_ADDRESS": f"{self.host}:{self.node_port}",
            # The node keeps its data under <base-dir>/<node-name>: a fixed name survives a new hostname.
            "RESTATE_NODE_NAME": "patterns",
            # No unix sockets: deep temp paths exceed the 108-byte socket path limit.
            "RESTATE_LISTEN_MODE": "tcp",
            "RESTATE_DISABLE_TELEMETRY": "true",
            "RESTATE_LOG_DISABLE_ANSI_CODES": "true",
            # The invoker makes a temp folder per partition at every start and leaves it: keep them in base_dir.
            "TMPDIR": str(self.base_dir / "tmp"),
            **self.settings,
        }

    def ready(self) -> bool:
        """Admin /health turns 200 before the ingress is ready after a restart: wait for both."""
        return http_ok(f"{self.admin_url}/health") and http_ok(f"{self.ingress_url}/restate/health")

    def start(self, timeout: float = 30.0, wait: bool = True) -> RestateServer:
        """Start (again, after `stop()` or `kill()`: same ports, same data) and, with `wait`, wait until it
        serves (without: `process.wait_ready()` later, e.g. once every node of a cluster is spawned)."""
        (self.base_dir / "tmp").mkdir(parents=True, exist_ok=True)
        self.process = ManagedProcess(
            "restate-server",
            [find_binary(), "--base-dir", str(self.base_dir), "--no-logo"],
            env=self.environment(),
            log=self.log_path or self.base_dir / "restate-server.log",
            ready=self.ready,
        )
        self.process.start(timeout, wait)
        return self

    def log_tail(self, lines: int = 20) -> str:
        return self.process.log_tail(lines) if self.process else ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is not None:
            self.process.stop(timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would (for durability tests); `start()` again on the same base dir."""
        if self.process is not None:
            self.process.kill()

    def __enter__(self) -> RestateServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
