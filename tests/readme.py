"""Read the walkthrough of a README and run it against a running stack.

Convention (kept small so the Markdown stays plain for readers):
- a fenced ```shell block holds commands a reader types, one per line (`#` comments allowed);
- ```shell no-run (reason) marks commands that need a real external service (a Stripe account, Docker):
  not run by the test, the reason says why;
- ```shell start marks long-running processes (`restate-server`, `python -m <pattern>`): the test brings
  the stack up itself instead (with the dev runner);
- a block whose info string contains `output` (```json output, ```text output) is the expected
  output of the shell block right before it: all its commands' stdout, in order;
- any other block (a ```mermaid diagram, a ```text log excerpt) is for the reader: neither run nor compared.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from patterns import REPO_ROOT
from patterns.catalogue import load_patterns, pattern_names, resolve_collisions
from patterns.examples import blocks
from patterns.process import ManagedProcess, ProcessExited, free_port
from patterns.restate_server import SMALL
from tests.harness import eventually


@dataclass(frozen=True)
class Step:
    commands: tuple[str, ...]
    expected: str | None
    line: int
    start: bool  # a long-running process, or `no-run` (needs a real external service): not run by the test
    expected_line: int | None = None  # where the output block is


def steps(readme: Path) -> list[Step]:
    found = blocks(readme.read_text())
    result = []
    for index, block in enumerate(found):
        if not block.info or block.info[0] not in ("shell", "sh", "bash"):
            continue
        commands = tuple(
            line.strip() for line in block.text.splitlines() if line.strip() and not line.strip().startswith("#")
        )
        following = found[index + 1] if index + 1 < len(found) else None
        output = following if following and "output" in following.info else None
        skipped = "start" in block.info or "no-run" in block.info
        result.append(
            Step(commands, output.text if output else None, block.line, skipped, output.line if output else None)
        )
    return result


def output_blocks(readme: Path) -> list[int]:
    """The lines of every output block of `readme`: what a walkthrough test should have compared."""
    return [block.line for block in blocks(readme.read_text()) if "output" in block.info]


NPX_SHIM = REPO_ROOT / "tests" / "bin" / "npx"


def rewrite(command: str, ports: Mapping[int, str]) -> str:
    """Point the default host:ports of a README command at the test stack."""
    for port, target in ports.items():
        command = re.sub(rf"\blocalhost:{port}\b", target, command)
    return command


# Values that differ on every run are compared by shape only: a README shows a real sample of each.
VARYING = [
    (re.compile(r"\binv_[0-9A-Za-z]+"), "<invocation id>"),
    (re.compile(r"\b(sign|prom|awk)_[0-9A-Za-z]+"), "<awakeable id>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<timestamp>"),
]


def normalise(text: str) -> str:
    """Trailing spaces and surrounding blank lines dropped, run-specific values masked (see VARYING)."""
    text = "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip()
    for pattern, placeholder in VARYING:
        text = pattern.sub(placeholder, text)
    return text


def sort_kv_rows(text: str) -> str:
    """`restate kv get` lists state keys in no fixed order: sort its rows (a row is a key line plus the
    indented continuation lines of a multi-line value) so that equal states compare equal."""
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if line.split()[:2] == ["KEY", "VALUE"]), None)
    if header is None:
        return text
    rows: list[list[str]] = []
    for line in lines[header + 1 :]:
        if rows and (line.startswith("   ") or not line.strip()):
            rows[-1].append(line)
        else:
            rows.append([line])
    return "\n".join(lines[: header + 1] + [line for row in sorted(rows) for line in row])


def run_step(step: Step, ports: Mapping[int, str], env: Mapping[str, str], cwd: Path) -> str:
    """Run a step's commands (in a shell, from `cwd`) and return their joined stdout."""
    outputs = []
    for command in step.commands:
        result = subprocess.run(
            ["bash", "-c", rewrite(command, ports)],
            cwd=cwd,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"README line {step.line}: {command!r} failed:\n{result.stderr}"
        outputs.append(result.stdout.strip("\n"))
    return "\n".join(outputs)


class DevStack(ManagedProcess):
    """`python -m patterns dev <patterns>` on free ports, as a child process; stopped with SIGINT (Ctrl-C).

    with DevStack(["durablerpc"], tmp_path) as stack:
        stack.run_walkthrough(REPO_ROOT / "durablerpc" / "README.md")

    README commands are pointed at the stack (`port_map`): the ingress, the admin API, localstripe, and the
    service and front end of the `focus` pattern (the first one unless set), where a README says 9080 and 5000.
    """

    def __init__(
        self, patterns: list[str], tmp_path: Path, env: Mapping[str, str] | None = None, nodes: int = 1
    ) -> None:
        self.patterns, self.tmp_path, self.nodes = patterns, tmp_path, nodes
        self.focus = patterns[0] if patterns else ""  # every pattern: no README of one of them
        self.service_ports: dict[str, int] = {}  # pattern -> port, as the runner reports them once ready
        self.front_end_ports: dict[str, int] = {}
        self._given_env = dict(env or {})
        super().__init__("dev runner", [], stop_signal=signal.SIGINT, stop_timeout=30)
        self._on_free_ports()
        self._seen = 0  # lines before this index were looked at by wait_for()

    def start(self, timeout: float = 90.0, wait: bool = True, attempts: int = 3) -> DevStack:
        super().start(timeout, wait=False)
        if wait:
            try:
                self.wait_for("pids:", timeout)  # printed right after "==> ready"
            except (ProcessExited, TimeoutError) as error:
                self.stop()
                output = "\n".join(self.lines[-200:])
                # Free ports are free when picked (here, and by the runner counting up from them): another
                # process may take one before the server binds it. Start afresh on other ports on that clash,
                # as the broker and database fixtures do.
                if attempts > 1 and "in use" in output:  # (a bind error, or the runner's own check)
                    self._seen = len(self.lines)
                    self._on_free_ports(fresh=True)
                    return self.start(timeout, wait, attempts - 1)
                raise ProcessExited(
                    f"the dev runner did not get ready ({error.__class__.__name__}):\n{output}"
                ) from None
            for line in self.lines:
                if deployment := re.match(r"\s+(\S+)\s+http://127\.0\.0\.1:(\d+)\s+->", line):
                    self.service_ports[deployment[1]] = int(deployment[2])
                elif front_end := re.match(r"\s+front end (\S+): http://localhost:(\d+)", line):
                    self.front_end_ports[front_end[1]] = int(front_end[2])
        return self

    def _on_free_ports(self, fresh: bool = False) -> None:
        """The runner's command line and environment on newly picked free ports (`fresh`: its data too)."""
        # Node i of a cluster uses port + i - 1; the runner counts the patterns' ports up from the first one.
        self.ports = {name: free_port(count=self.nodes) for name in ("ingress", "admin", "node")}
        count = len(self.patterns or pattern_names())
        self.ports.update(service=free_port(count=count), api=free_port(count=count))
        self.env = {
            **SMALL,  # restate-server's small footprint (it reads RESTATE_* from its environment)
            # The extras on free ports too (patterns that need none ignore them).
            "LOCALSTRIPE_PORT": str(free_port()),
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "DATABASE_URL": f"postgres://restatedb:restatedb@localhost:{free_port()}/exampledb",
            **self._given_env,
        }
        self.args = (
            [sys.executable, "-m", "patterns", "dev", *self.patterns, "--base-dir", str(self.tmp_path / "data")]
            + [arg for name, port in self.ports.items() for arg in (f"--{name}-port", str(port))]
            + (["--nodes", str(self.nodes)] if self.nodes > 1 else [])
            + (["--fresh"] if fresh else [])
        )

    def wait_for(self, prefix: str, timeout: float = 60.0) -> str:
        """The next line of the runner's output that starts with `prefix` (stripped)."""
        index = self.wait_for_line(lambda line: line.strip().startswith(prefix), timeout, self._seen)
        self._seen = index + 1
        return self.lines[index].strip()

    def pids(self) -> dict[str, int]:
        line = next(line for line in self.lines if line.strip().startswith("pids:"))
        return {label: int(pid) for label, pid in re.findall(r"(\S+)=(\d+)", line)}

    def log(self, label: str) -> list[str]:
        """The output lines of one child (`durablerpc`, `durablerpc.api`), as the runner streamed them."""
        prefix = f"{label} |"
        return [line.strip()[len(prefix) :].strip() for line in self.lines if line.strip().startswith(prefix)]

    @property
    def port_map(self) -> dict[int, str]:
        """Upstream default port -> this stack's host:port: ingress, admin API, localstripe, and the service and
        front end of the `focus` pattern; on a cluster, node i's ingress and admin API on 8080 + i - 1 and
        9070 + i - 1, as `make dev NODES=3`."""
        nodes = range(self.nodes)
        ports = {
            **{8080 + i: self.ports["ingress"] + i for i in nodes},
            **{9070 + i: self.ports["admin"] + i for i in nodes},
            8420: int(self.env["LOCALSTRIPE_PORT"]),
            9080: self.service_ports.get(self.focus, self.ports["service"]),
            5000: self.front_end_ports.get(self.focus, self.ports["api"]),
        }
        return {default: f"127.0.0.1:{port}" for default, port in ports.items()}

    @property
    def command_env(self) -> dict[str, str]:
        """Environment for README commands: the venv's `python` first on PATH, `npx restate` without npm's
        start (tests/bin/npx), the CLI pointed at the stack."""
        return {
            "RESTATE_INGRESS_URL": f"http://{self.port_map[8080]}",
            "RESTATE_ADMIN_URL": f"http://{self.port_map[9070]}",
            "RESTATE_CLI_CONFIG_HOME": str(self.tmp_path / "cli"),
            "PATH": os.pathsep.join([str(NPX_SHIM.parent), str(Path(sys.executable).parent), os.environ["PATH"]]),
            **self.env,
        }

    def run_walkthrough(self, readme: Path, retried: Sequence[str] = ()) -> list[int]:
        """Run every non-`start` shell step of `readme` in order, comparing each output the README shows;
        returns the lines of the output blocks compared. A step with one of the `retried` words in a command
        shows the effect of asynchronous work (a Kafka record, say): it runs again until its output matches
        (so it must be read-only)."""
        compared = []
        for step in steps(readme):
            if step.start:
                continue
            if step.expected_line is None:
                run_step(step, self.port_map, self.command_env, REPO_ROOT)
                continue
            if any(word in command for command in step.commands for word in retried):
                eventually(partial(self._compare, readme, step), timeout=30, interval=0.5)
            else:
                self._compare(readme, step)
            compared.append(step.expected_line)
        return compared

    def _compare(self, readme: Path, step: Step) -> None:
        assert step.expected is not None
        output = run_step(step, self.port_map, self.command_env, REPO_ROOT)
        if any(" kv get " in f" {command} " for command in step.commands):
            output, expected = sort_kv_rows(normalise(output)), sort_kv_rows(normalise(step.expected))
        else:
            output, expected = normalise(output), normalise(step.expected)
        assert output == expected, f"{readme.name} line {step.line}"


def shares(patterns: Iterable[str], count: int) -> dict[str, int]:
    """Deal the walkthroughs of `patterns` out to `count` shares (one per test worker), in turn, by name."""
    return {pattern: index % count for index, pattern in enumerate(sorted(set(patterns)))}


class DevStacks:
    """The dev stacks that README walkthroughs share. The walkthroughs are dealt out to `count` shares (one
    per test worker, see tests/conftest.py); a share gets one stack for each group of its patterns whose
    service names do not collide (on one server, a pattern would take over the other's `payments` or
    `PaymentTracker`). Each stack is started when a walkthrough first needs it, and stopped at the end.

    `walkthroughs`: pattern -> the environment its walkthrough wants (knobs: they reach every pattern of the
    stack, so two walkthroughs must not want different values); `env`: for every stack. A README command that
    looks at the whole server (`restate inv list`) sees what earlier walkthroughs on the stack left there.
    """

    def __init__(
        self,
        tmp_path: Path,
        walkthroughs: Mapping[str, Mapping[str, str]],
        env: Mapping[str, str] | None = None,
        count: int = 1,
    ) -> None:
        self.tmp_path, self.walkthroughs, self.env = tmp_path, walkthroughs, dict(env or {})
        self.share_of = shares(walkthroughs, count)
        self._stacks: dict[tuple[str, ...], DevStack] = {}

    def group_of(self, pattern: str) -> tuple[str, ...]:
        """The patterns on `pattern`'s stack: those of its share that do not collide with one another."""
        remaining = load_patterns([p for p, share in self.share_of.items() if share == self.share_of[pattern]])
        while True:
            kept, left_out = resolve_collisions(remaining)
            if pattern in {p.name for p in kept}:
                return tuple(p.name for p in kept)
            remaining = [p for p in remaining if p.name in {c.pattern for c in left_out}]

    def stack_for(self, pattern: str) -> DevStack:
        """The stack that serves `pattern`, focused on it."""
        group = next((group for group in self._stacks if pattern in group), None) or self.group_of(pattern)
        if group not in self._stacks:
            env = dict(self.env)
            for name in group:
                for key, value in self.walkthroughs[name].items():
                    if env.setdefault(key, value) != value:
                        raise ValueError(f"walkthroughs on one stack want {key}={env[key]} and {key}={value}")
            self._stacks[group] = DevStack(list(group), self.tmp_path / group[0], env).start()
        stack = self._stacks[group]
        stack.focus = pattern
        return stack

    def stop(self) -> None:
        for stack in self._stacks.values():
            stack.stop()
