"""`python -m patterns dev [PATTERN ...]`: the whole suite on one native restate-server.

Starts restate-server (data in `.restate/`), serves every pattern (or the ones named) with
`python -m <pattern>` on its own port from 9080 up, and its front end (`python -m <pattern>.api`) from
5000 up, registers every deployment, prints what to call, and stops everything on Ctrl-C.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from patterns.catalogue import Collision, Pattern, load_patterns, pattern_names, resolve_collisions
from patterns.examples import example_curl
from patterns.extras import EXTRAS, Extra
from patterns.registration import register
from patterns.restate_server import REPO_ROOT, RestateServer, port_in_use, spawn, stop_process
from patterns.serving import wait_http_ok

_print_lock = threading.Lock()


def say(line: str = "") -> None:
    with _print_lock:
        print(line, flush=True)


@dataclass
class Child:
    label: str
    url: str
    proc: subprocess.Popen[str]
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True)
        self.thread.start()

    def _pump(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            say(f"{self.label:>22} | {line.rstrip()}")


def start_child(label: str, module: str, env: dict[str, str], url: str) -> Child:
    proc = spawn([sys.executable, "-m", module], subprocess.PIPE, {**env, "PYTHONUNBUFFERED": "1"}, text=True)
    return Child(label, url, proc)


def free_ports_from(first: int) -> Iterator[int]:
    port = first
    while True:
        if not port_in_use(port):
            yield port
        port += 1


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.server = RestateServer(
            base_dir=args.base_dir,
            ingress_port=args.ingress_port,
            admin_port=args.admin_port,
            node_port=args.node_port,
        )
        self.children: list[Child] = []
        self.extras: list[Extra] = []
        self.stopping = threading.Event()

    # -- start --------------------------------------------------------------------------------------
    def run(self) -> int:
        started = time.monotonic()
        all_names = pattern_names()
        unknown = [name for name in self.args.patterns if name not in all_names]
        if unknown:
            say(f"error: unknown pattern(s) {', '.join(unknown)}; known: {', '.join(all_names)}")
            return 2
        busy = [p for p in (self.args.ingress_port, self.args.admin_port, self.args.node_port) if port_in_use(p)]
        if busy:
            say(f"error: port(s) {', '.join(map(str, busy))} already in use (another restate-server?).")
            say("       Stop it, or pick other ports: --ingress-port/--admin-port/--node-port.")
            return 2

        if self.args.fresh and self.args.base_dir.exists():
            shutil.rmtree(self.args.base_dir)
        say("==> reading the service definitions")
        kept, left_out = resolve_collisions(load_patterns(self.args.patterns or all_names))
        if left_out and self.args.patterns:
            for c in left_out:
                say(f"error: {c.pattern} and {c.taken_by} both define service {', '.join(c.services)};")
                say("       on one server the later registration would take it over. Start them one at a time.")
            return 2

        for name in sorted({need for pattern in kept for need in pattern.needs}):
            say(f"==> starting {name}")
            extra = EXTRAS[name]()
            self.extras.append(extra)
            extra.start(self.args.base_dir / name)
            self.server.settings = {**self.server.settings, **extra.server_settings()}
        say(f"==> starting restate-server (data in {self.args.base_dir})")
        self.server.start()
        say(
            f"    ingress {self.server.ingress_url}, admin {self.server.admin_url}  [{time.monotonic() - started:.1f}s]"
        )

        say(f"==> serving {len(kept)} pattern(s)")
        deployments = self._start_patterns(kept)
        for child in self.children:
            wait_http_ok(child.url + ("/health" if child.label in deployments else "/openapi.json"), timeout=60)
        say(f"    all healthy  [{time.monotonic() - started:.1f}s]")

        say("==> registering deployments")
        for label, url in deployments.items():
            services = register(self.server.admin_url, url)
            say(f"    {label:<22} {url}  ->  {', '.join(services)}")
        for extra in self.extras:
            for line in extra.after_registration(self.server.admin_url, self.server.ingress_url, kept):
                say(f"    {line}")

        self._print_summary(kept, left_out)
        say(f"==> ready in {time.monotonic() - started:.1f}s. Press Ctrl-C to stop.")
        pids = [f"restate-server={self.server.pid}"] + [f"{c.label}={c.proc.pid}" for c in self.children]
        say(f"    pids: {' '.join(pids)}")
        return self._watch()

    def _start_patterns(self, kept: list[Pattern]) -> dict[str, str]:
        """Ports count up from --service-port (front ends from --api-port) in alphabetical order, skipping
        ports in use: the first pattern gets 9080 as in its README, the same patterns get the same ports."""
        env = {
            **{key: value for extra in self.extras for key, value in extra.service_env().items()},
            "RESTATE_INGRESS_URL": self.server.ingress_url,
            "RESTATE_ADMIN_URL": self.server.admin_url,
            "SERVICE_HOST": "127.0.0.1",
            "API_HOST": "127.0.0.1",
        }
        ports, api_ports = free_ports_from(self.args.service_port), free_ports_from(self.args.api_port)
        deployments: dict[str, str] = {}
        for pattern in kept:
            port = next(ports)
            url = f"http://127.0.0.1:{port}"
            self.children.append(start_child(pattern.name, pattern.name, {**env, "SERVICE_PORT": str(port)}, url))
            deployments[pattern.name] = url
            if pattern.has_api:
                api_port = next(api_ports)
                api_url = f"http://127.0.0.1:{api_port}"
                api_env = {**env, "API_PORT": str(api_port)}
                self.children.append(start_child(f"{pattern.name}.api", f"{pattern.name}.api", api_env, api_url))
        return deployments

    def _print_summary(self, kept: list[Pattern], left_out: list[Collision]) -> None:
        ingress = f"localhost:{self.server.ingress_port}"
        rows = [("PATTERN", "SERVICE", "HANDLER", "EXAMPLE")]
        for pattern in kept:
            for service in pattern.services:
                for handler in service.handlers:
                    rows.append((pattern.name, service.name, handler.name, example_curl(ingress, service, handler)))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        say()
        for row in rows:
            say(
                "  " + "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
            )
        fronts = [c for c in self.children if c.label.endswith(".api")]
        if fronts:
            say()
            for child in fronts:
                say(f"  front end {child.label.removesuffix('.api')}: {child.url.replace('127.0.0.1', 'localhost')}")
        if left_out:
            say()
            for c in left_out:
                say(
                    f"  left out {c.pattern}: service {', '.join(c.services)} is taken by {c.taken_by}. "
                    f"Start it alone: make dev PATTERNS={c.pattern}"
                )
        if self.server.admin_port != 9070:
            say()
            say(f"  for the restate CLI: export RESTATE_ADMIN_URL={self.server.admin_url}")
        say()

    # -- run and stop -------------------------------------------------------------------------------
    def _watch(self) -> int:
        reported: set[str] = set()
        while not self.stopping.wait(0.5):
            for child in self.children:
                if child.proc.poll() is not None and child.label not in reported:
                    reported.add(child.label)
                    say(f"!!! {child.label} exited with code {child.proc.returncode}")
            if self.server.proc is not None and self.server.proc.poll() is not None:
                say(f"!!! restate-server exited with code {self.server.proc.returncode}:\n{self.server.log_tail()}")
                return 1
        return 0

    def on_signal(self, signum: int, _frame: object) -> None:
        if self.stopping.is_set():  # a second Ctrl-C: no more waiting
            for child in self.children:
                if child.proc.poll() is None:
                    child.proc.kill()
            return
        say(f"\n==> {signal.Signals(signum).name}: stopping")
        self.stopping.set()

    def stop(self) -> None:
        for child in self.children:
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        for child in self.children:
            stop_process(child.proc, signal.SIGTERM, timeout=10)
            child.thread.join(2)
        self.server.stop()
        for extra in reversed(self.extras):
            extra.stop()
        say("==> stopped")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("patterns", nargs="*", help="patterns to serve (default: every pattern that fits)")
    parser.add_argument("--ingress-port", type=int, default=8080)
    parser.add_argument("--admin-port", type=int, default=9070)
    parser.add_argument("--node-port", type=int, default=5122)
    parser.add_argument("--service-port", type=int, default=9080, help="first port of the pattern services")
    parser.add_argument("--api-port", type=int, default=5000, help="first port of the front ends")
    parser.add_argument("--base-dir", type=Path, default=REPO_ROOT / ".restate", help="restate-server data")
    parser.add_argument("--fresh", action="store_true", help="delete the server's data first")


def main(args: argparse.Namespace) -> int:
    runner = Runner(args)
    signal.signal(signal.SIGINT, runner.on_signal)
    signal.signal(signal.SIGTERM, runner.on_signal)
    try:
        return runner.run()
    except Exception as error:  # a failed start: say why, then clean up what did start
        say(f"error: {error}")
        return 1
    finally:
        runner.stop()
