"""Start and stop a native restate-server (the binary from the npm package), no Docker needed.

    with RestateServer(base_dir=Path(".restate")) as server:   # ports 8080/9070/5122 by default
        print(server.ingress_url, server.admin_url)

The binary is looked up in this order: $RESTATE_SERVER_BIN, the npm install in this repository
(`node_modules/@restatedev/restate-server-<os>-<arch>/bin/restate-server`), then `restate-server` on PATH.
The server process is started in its own session and stopped by its PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import ctypes
import os
import platform
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent

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


def _npm_binary(package: str, name: str) -> Path | None:
    arch, osname = _ARCH.get(platform.machine().lower()), _OS.get(platform.system())
    if not arch or not osname:
        return None
    path = REPO_ROOT / "node_modules" / "@restatedev" / f"{package}-{osname}-{arch}" / "bin" / name
    return path if path.exists() else None


def find_binary(
    package: str = "restate-server", name: str = "restate-server", env_var: str = "RESTATE_SERVER_BIN"
) -> str:
    """Path of the native `restate-server` (or, with other arguments, the `restate` CLI)."""
    if os.environ.get(env_var):
        return os.environ[env_var]
    found = _npm_binary(package, name) or shutil.which(name)
    if not found:
        raise FileNotFoundError(
            f"{name} not found: run `make install` (npm ci) in {REPO_ROOT}, put it on PATH, or set {env_var}"
        )
    return str(found)


def find_cli() -> str:
    return find_binary("restate", "restate", "RESTATE_CLI_BIN")


_prctl: Callable[..., int] | None
try:  # resolved before any fork: the child only makes one system call
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """`preexec_fn` for children: SIGTERM them if the process that started them dies (Linux only), so a
    crashed runner or test session leaves nothing behind."""
    if _prctl is not None:
        _prctl(1, signum)  # PR_SET_PDEATHSIG


def spawn(
    args: list[str], stdout: Any, env: Mapping[str, str] | None = None, text: bool = False
) -> subprocess.Popen[Any]:
    """Start a child the way every launcher here does: from the repository root, no stdin, stderr into
    `stdout`, in its own session (a terminal's Ctrl-C reaches only the parent, which stops children in
    order, by PID), and dying with its parent. `env` is added to this process's environment."""
    return subprocess.Popen(
        args,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        text=text,
        start_new_session=True,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - one system call, resolved before the fork
    )


def http_ok(url: str, **kwargs: Any) -> bool:
    return httpx.get(url, timeout=1.0, **kwargs).status_code == 200


def wait_until(
    ready: Callable[[], bool],
    proc: subprocess.Popen[Any] | None,
    name: str,
    timeout: float,
    exited: type[Exception] = RuntimeError,
    see: Callable[[], str] = lambda: "its log",
) -> None:
    """The launchers' readiness wait: poll `ready()` (an exception counts as not ready yet) until it is
    true; raise `exited` if the process ends first, TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        if proc is not None and proc.poll() is not None:
            raise exited(f"{name} exited with {proc.returncode}; see {see()}")
        try:
            if ready():
                return
        except Exception as error:  # not listening yet, or still starting
            last = error
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not ready after {timeout:.0f}s (last: {last!r})")
        time.sleep(0.05)


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (bind-then-close: callers retry on the rare clash)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Signal one process by its PID, wait for it, SIGKILL it if it does not go."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class ServerExited(RuntimeError):
    """restate-server stopped while we waited for it (a port clash, a bad setting...)."""


@dataclass
class RestateServer:
    base_dir: Path
    ingress_port: int = 8080
    admin_port: int = 9070
    node_port: int = 5122
    host: str = "127.0.0.1"
    settings: Mapping[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

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
        return self.proc.pid if self.proc else None

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            RESTATE_INGRESS__BIND_ADDRESS=f"{self.host}:{self.ingress_port}",
            RESTATE_ADMIN__BIND_ADDRESS=f"{self.host}:{self.admin_port}",
            RESTATE_BIND_ADDRESS=f"{self.host}:{self.node_port}",
            # The node keeps its data under <base-dir>/<node-name>: a fixed name survives a new hostname.
            RESTATE_NODE_NAME="patterns",
            # No unix sockets: deep temp paths exceed the 108-byte socket path limit.
            RESTATE_LISTEN_MODE="tcp",
            RESTATE_DISABLE_TELEMETRY="true",
            RESTATE_LOG_DISABLE_ANSI_CODES="true",
        )
        env.update(self.settings)
        return env

    def start(self, timeout: float = 30.0) -> RestateServer:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path or self.base_dir / "restate-server.log"
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = spawn([find_binary(), "--base-dir", str(self.base_dir), "--no-logo"], self._log, self.environment())
        try:
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Admin /health turns 200 before the ingress is ready after a restart: wait for both."""
        wait_until(
            lambda: http_ok(f"{self.admin_url}/health") and http_ok(f"{self.ingress_url}/restate/health"),
            self.proc,
            "restate-server",
            timeout,
            exited=ServerExited,
            see=self.log_tail,
        )

    def log_tail(self, lines: int = 20) -> str:
        path = self.log_path or self.base_dir / "restate-server.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return f"(no log at {path})"

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGTERM, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL, as a crash would (for durability tests); `start()` again on the same base dir."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.stop()

    def __enter__(self) -> RestateServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
