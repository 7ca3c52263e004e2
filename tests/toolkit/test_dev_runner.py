"""`python -m patterns dev durablerpc` (what `make dev PATTERNS=durablerpc` runs) brings up the stack; the
durablerpc README walkthrough works against it; Ctrl-C stops every process it started."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from patterns.restate_server import REPO_ROOT, free_port, port_in_use
from tests.readme import normalise, run_step, steps


@dataclass
class DevRunner:
    proc: subprocess.Popen[str]
    ports: dict[str, int]
    lines: list[str] = field(default_factory=list)
    _new: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._new.put(line)
        self._new.put(None)

    def wait_for(self, prefix: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._new.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("dev runner exited early:\n" + "\n".join(self.lines))
            if line.strip().startswith(prefix):
                return line.strip()
        raise AssertionError(f"no line starting {prefix!r} within {timeout}s:\n" + "\n".join(self.lines))

    def pids(self) -> dict[str, int]:
        line = next(line for line in self.lines if line.strip().startswith("pids:"))
        return {label: int(pid) for label, pid in re.findall(r"(\S+)=(\d+)", line)}


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevRunner]:
    ports = {name: free_port() for name in ("ingress", "admin", "node", "service", "api")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "patterns", "dev", "durablerpc", "--base-dir", str(tmp_path / "data")]
        + [arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    runner = DevRunner(proc, ports)
    try:
        yield runner
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_dev_runner_serves_the_readme_walkthrough_and_stops_everything(dev: DevRunner, tmp_path: Path) -> None:
    ready = dev.wait_for("==> ready")
    seconds = float(re.findall(r"ready in ([\d.]+)s", ready)[0])
    assert seconds < 20, ready  # about 2 s on an idle 2-core machine
    pids = dev.pids()
    assert set(pids) == {"restate-server", "durablerpc", "durablerpc.api"}
    assert any(f"localhost:{dev.ports['ingress']}/product/key1/reserve" in line for line in dev.lines)

    ports = {
        8080: f"127.0.0.1:{dev.ports['ingress']}",
        9070: f"127.0.0.1:{dev.ports['admin']}",
        9080: f"127.0.0.1:{dev.ports['service']}",
        5000: f"127.0.0.1:{dev.ports['api']}",
    }
    env = {
        "RESTATE_INGRESS_URL": f"http://{ports[8080]}",
        "RESTATE_ADMIN_URL": f"http://{ports[9070]}",
        "RESTATE_CLI_CONFIG_HOME": str(tmp_path / "cli"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    walkthrough = [step for step in steps(REPO_ROOT / "durablerpc" / "README.md") if not step.start]
    assert len(walkthrough) >= 7
    checked = 0
    for step in walkthrough:
        output = run_step(step, ports, env, REPO_ROOT)
        if step.expected is not None:
            assert normalise(output) == normalise(step.expected), f"README line {step.line}"
            checked += 1
    assert checked >= 6

    # The service's log (streamed by the runner) shows one reservation and one refusal of product1.
    service_log = [line for line in dev.lines if line.lstrip().startswith("durablerpc |")]
    assert sum("Reserving product product1" in line for line in service_log) == 1
    assert sum("Product already reserved product1" in line for line in service_log) == 1

    dev.proc.send_signal(signal.SIGINT)
    assert dev.proc.wait(30) == 0
    assert dev.lines[-1].strip() == "==> stopped"
    assert [label for label, pid in pids.items() if alive(pid)] == []
    assert [name for name, port in dev.ports.items() if name != "node" and port_in_use(port)] == []


def test_dev_runner_refuses_unknown_patterns() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "patterns", "dev", "nosuchpattern"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "unknown pattern(s) nosuchpattern" in run.stdout
