"""Child processes, started and stopped the one way every launcher here does it (restate-server, the Kafka
broker, localstripe, the dev runner's patterns, the tests' service processes and dev stacks, the benchmark).

    broker = ManagedProcess("kafka", [binary, "broker", ...], log=Path("tansu.log"), ready=answers_metadata)
    broker.start(timeout=20)   # spawn, then poll ready() until true; stopped again if it exits or never gets there
    ...
    broker.stop()              # by PID: SIGTERM (or `stop_signal`), SIGKILL after `stop_timeout` seconds

A child runs from the repository root, with no stdin, stderr joined to stdout, in its own session (a
terminal's Ctrl-C reaches only the parent, which stops its children in order, by PID) and dying with its
parent (PR_SET_PDEATHSIG, Linux), so a crashed runner or test session leaves nothing behind. Its output
goes to a log file (`log=`), or is read line by line: kept in `lines` and handed to `on_line`.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import random
import select
import signal
import socket
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Self

from patterns import REPO_ROOT
from patterns.httpclient import http

_prctl: Callable[..., int] | None
try:  # resolved before any fork: the child only makes one system call
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """`preexec_fn` for children: `signum` them if the process that started them dies (Linux only)."""
    if _prctl is not None:
        _prctl(1, signum)  # PR_SET_PDEATHSIG


def spawn(args: Sequence[str], stdout: Any, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a child as described above; `env` is added to this process's environment."""
    return subprocess.Popen(
        list(args),
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - one system call, resolved before the fork
    )


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


def wait_until(
    ready: Callable[[], bool],
    what: str,
    timeout: float,
    proc: subprocess.Popen[Any] | None = None,
    see: Callable[[], str] = lambda: "its log",
) -> None:
    """Poll `ready()` (an exception counts as not ready yet) until it is true; raise ProcessExited if `proc`
    ends first, TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        if proc is not None and proc.poll() is not None:
            raise ProcessExited(f"{what} exited with {proc.returncode}; see {see()}")
        try:
            if ready():
                return
        except Exception as error:  # not listening yet, or still starting
            last = error
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f}s (last: {last!r})")
        time.sleep(0.05)


def http_ok(url: str, **kwargs: Any) -> bool:
    return http.get(url, timeout=2.0, **kwargs).status_code == 200


def wait_http_ok(url: str, timeout: float = 30.0) -> None:
    """Poll `url` until it answers 200, or raise TimeoutError."""
    wait_until(lambda: http_ok(url), url, timeout)


def _ephemeral_ports_from() -> int:
    """Where the kernel's range of local ports for outgoing connections starts."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


class _PortWalk:
    """Hands out free ports from a range below the ephemeral one, walking it from a random place.

    A port the kernel picks (bind to port 0) comes from the ephemeral range, where every outgoing connection
    takes its local port too: with hundreds of connections a second to the services, one could take the port
    before its server binds it. Below that range only servers bind. A port is handed out only if nothing
    holds it now, and by one process not again until its walk comes round; processes walking the same range
    could both hand out a port before either binds it, so test workers walk ranges of their own (`walk_share`).
    """

    def __init__(self, ports: range) -> None:
        self.lock = threading.Lock()
        self.use(ports)

    def use(self, ports: range) -> None:
        with self.lock:
            self.ports, self.next = ports, random.choice(ports)

    def take(self, host: str, count: int) -> int:
        with self.lock:
            for _ in range(len(self.ports)):
                first = self.next if self.next + count <= self.ports.stop else self.ports.start
                self.next = first + 1
                if all(bindable(port, host) for port in range(first, first + count)):
                    self.next = first + count
                    return first
        raise OSError(f"no {count} free ports in a row on {host} in {self.ports}")


def bindable(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind `port` now (`port_in_use` misses a port bound but not listening)."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


# Above the upstream defaults (5000, 8080, 9070, 9080, 9092...), below the kernel's ephemeral range.
FREE_PORTS = range(20000, max(_ephemeral_ports_from(), 24000))
_walk = _PortWalk(FREE_PORTS)


def walk_share(index: int, shares: int) -> None:
    """Hand out free ports, in this process, from only the `index`-th of `shares` equal parts of FREE_PORTS
    (e.g. one part per test worker)."""
    size = len(FREE_PORTS) // shares
    _walk.use(FREE_PORTS[index * size :][:size])


def free_port(host: str = "127.0.0.1", count: int = 1) -> int:
    """A free port (the first of `count` free ones in a row); see _PortWalk. Free a moment ago only: callers
    retry on the rare clash."""
    return _walk.take(host, count)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class ProcessExited(RuntimeError):
    """A child stopped while we waited for it (a port clash, a bad setting...)."""


def _pending(fd: int) -> int:
    """How many bytes the pipe `fd` holds (FIONREAD)."""
    try:
        return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])
    except OSError:  # closed
        return 0


class ManagedProcess:
    """One child process: start (with a ready check), output, stop by PID, kill (a crash), restart.

    `log`: append the output to this file. Otherwise the output is read line by line into `lines` (the last
    `keep_lines` only, if set) and each line is passed to `on_line`. `ready`: polled after the start until it
    returns true. `stop_signal`/`stop_timeout`: how `stop()` asks, and how long it waits before SIGKILL.
    """

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        on_line: Callable[[str], None] | None = None,
        keep_lines: int | None = None,
        ready: Callable[[], bool] | None = None,
        stop_signal: int = signal.SIGTERM,
        stop_timeout: float = 15.0,
    ) -> None:
        self.name, self.args, self.env = name, list(args), dict(env or {})
        self.log_path, self.on_line, self.keep_lines = log, on_line, keep_lines
        self.ready, self.stop_signal, self.stop_timeout = ready, stop_signal, stop_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines: list[str] = []  # kept across restarts
        self._log: IO[bytes] | None = None
        self._pump: threading.Thread | None = None
        self._new_line = threading.Condition()

    # -- state --------------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    # -- start --------------------------------------------------------------------------------------
    def start(self, timeout: float = 30.0, wait: bool = True) -> Self:
        """Spawn, then (with `wait`) wait until ready: on failure the process is stopped and the error raised."""
        if self.running:
            raise RuntimeError(f"{self.name} is running already (pid {self.pid})")
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            self.proc = spawn(self.args, self._log, self.env)
        else:
            self.proc = spawn(self.args, subprocess.PIPE, self.env)
            self._pump = threading.Thread(target=self._read, args=(self.proc,), name=f"{self.name}-output", daemon=True)
            self._pump.start()
        if wait:
            try:
                self.wait_ready(timeout)
            except BaseException:
                self.stop()
                raise
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        if self.ready is not None:
            wait_until(self.ready, self.name, timeout, self.proc, see=self.log_tail)

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        """The output pump. It reads only what the pipe holds, and adds those lines to `lines` in the same
        hold of the lock: once the pipe is empty under the lock, every line written so far is in `lines`
        (`caught_up`)."""
        assert proc.stdout is not None
        fd, partial = proc.stdout.fileno(), b""
        while True:
            select.select([fd], [], [])  # data, or the end of the output
            with self._new_line:
                data = os.read(fd, max(_pending(fd), 1))  # (1: a readable pipe with nothing in it is closed)
                chunks = (partial + data).split(b"\n")
                partial = chunks.pop() if data else b""
                lines = [chunk.decode(errors="replace").rstrip("\r") for chunk in chunks if data or chunk]
                self.lines.extend(lines)
                if self.keep_lines is not None and len(self.lines) > 2 * self.keep_lines:
                    del self.lines[: -self.keep_lines]
                self._new_line.notify_all()
            if self.on_line is not None:
                for line in lines:
                    self.on_line(line)
            if not data:
                return

    def caught_up(self, timeout: float = 5.0) -> None:
        """Wait until `lines` holds everything the process has written so far (the pump reads a moment
        after the write: a line logged before an answer may not be in `lines` when the answer arrives)."""
        if self._pump is None or self.proc is None or self.proc.stdout is None:
            return
        deadline = time.monotonic() + timeout
        with self._new_line:
            while self._pump.is_alive() and _pending(self.proc.stdout.fileno()) and time.monotonic() < deadline:
                self._new_line.wait(0.05)

    # -- output -------------------------------------------------------------------------------------
    def wait_for_line(self, match: Callable[[str], bool], timeout: float, after: int = 0) -> int:
        """The index in `lines` of the first line from `after` on for which `match` is true."""
        deadline = time.monotonic() + timeout
        with self._new_line:
            while True:
                for index in range(after, len(self.lines)):
                    if match(self.lines[index]):
                        return index
                after = max(after, len(self.lines))
                if self._pump is None or not self._pump.is_alive():
                    raise ProcessExited(f"{self.name} exited with {self.returncode}:\n{self.log_tail()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self.name}: no such line within {timeout:.0f}s:\n{self.log_tail()}")
                self._new_line.wait(min(remaining, 0.5))

    def count(self, text: str) -> int:
        """How many output lines contain `text`, of all the process has written so far."""
        self.caught_up()
        return sum(text in line for line in list(self.lines))

    def log_tail(self, count: int = 20) -> str:
        if self.log_path is None:
            return "\n".join(self.lines[-count:])
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-count:])
        except OSError:
            return f"(no log at {self.log_path})"

    # -- stop ---------------------------------------------------------------------------------------
    def send_signal(self, sig: int) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Wait for the process to end (raises subprocess.TimeoutExpired); its output is read to the end."""
        assert self.proc is not None
        returncode = self.proc.wait(timeout)
        self._close()
        return returncode

    def stop(self, timeout: float | None = None) -> int | None:
        """`stop_signal` by PID, then SIGKILL if it is still there after `timeout` (default `stop_timeout`)."""
        if self.proc is not None:
            stop_process(self.proc, self.stop_signal, self.stop_timeout if timeout is None else timeout)
        self._close()
        return self.returncode

    def kill(self) -> None:
        """SIGKILL, as a crash would (for durability tests); `start()` or `restart()` it again."""
        if self.running:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)
        self._close()

    def restart(self, timeout: float = 30.0) -> Self:
        """Kill it (a crash) and start the same command again."""
        self.kill()
        return self.start(timeout)

    def _close(self) -> None:
        if self._pump is not None:
            self._pump.join(5)
            self._pump = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_until_interrupted(process: ManagedProcess, exited: str) -> int:
    """Wait (the command line of a launcher) until Ctrl-C or SIGTERM: 0; or until the child exits by itself:
    print `exited` with its exit code and return 1. The caller stops the child."""
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    while not stopping.wait(0.5):
        if not process.running:
            print(f"{exited} with code {process.returncode}", flush=True)
            return 1
    return 0
