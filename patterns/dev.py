"""`python -m patterns dev [PATTERN ...] [--nodes N]`: the whole suite on native restate-server.

Starts restate-server (data in `.restate/`), serves every pattern (or the ones named) with
`python -m <pattern>` on its own port from 9080 up, and its front end (`python -m <pattern>.api`) from
5000 up, registers every deployment, prints what to call (an example call per handler, from the pattern's
README: `patterns.examples`) and where the Restate UI is, and stops everything on Ctrl-C.

Requests are signed: restate-server (every node of a cluster) signs with `.restate/request-identity.pem`
(created on first start, `patterns.signing`), and every pattern answers 401 to anything it did not sign.

With `--nodes 3`: a three-node Restate cluster (`patterns.cluster`, replication 2, data in
`.restate/cluster-3/`) instead of one server. Node 1 keeps the ports 8080/9070/5122, node 2 takes the next
ones (8081/9071/5123) and so on; patterns and front ends talk to node 1, any node's ingress works.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from patterns import REPO_ROOT, signing
from patterns.catalogue import Collision, Pattern, load_patterns, pattern_names, resolve_collisions
from patterns.cluster import RestateCluster
from patterns.examples import examples
from patterns.extras import EXTRAS, Extra
from patterns.process import ManagedProcess, bindable, http_ok, port_in_use
from patterns.registration import register
from patterns.restate_server import RestateServer

_print_lock = threading.Lock()


def say(line: str = "") -> None:
    with _print_lock:
        print(line, flush=True)


def child(label: str, module: str, env: dict[str, str], ready_url: str) -> ManagedProcess:
    """`python -m <module>`, its output streamed with its label in front."""
    return ManagedProcess(
        label,
        [sys.executable, "-m", module],
        env={**env, "PYTHONUNBUFFERED": "1"},
        on_line=lambda line: say(f"{label:>22} | {line}"),
        keep_lines=20,
        ready=lambda: http_ok(ready_url),
        stop_timeout=20,  # then SIGKILL, and granian's worker follows (patterns.serving)
    )


def node_name(server: RestateServer) -> str:
    """`restate-server`, or `n2` for node 2 of a cluster."""
    return server.settings.get("RESTATE_NODE_NAME", "restate-server")


def free_ports_from(first: int) -> Iterator[int]:
    """The ports from `first` on that the patterns could bind (they listen on 127.0.0.1)."""
    port = first
    while True:
        if bindable(port):
            yield port
        port += 1


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cluster: RestateCluster | None = None
        if args.nodes > 1:
            first = (args.ingress_port, args.admin_port, args.node_port)
            self.cluster = RestateCluster.on_ports_from(args.base_dir / f"cluster-{args.nodes}", args.nodes, first)
            self.nodes = self.cluster.nodes
        else:
            self.nodes = [RestateServer(args.base_dir, args.ingress_port, args.admin_port, args.node_port)]
        self.server = self.nodes[0]  # the one patterns, front ends and registration talk to
        self.children: list[ManagedProcess] = []
        self.front_ends: dict[str, str] = {}  # pattern -> URL
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
        if self.args.nodes < 1:
            say(f"error: --nodes must be 1 or more, got {self.args.nodes}")
            return 2
        ports = [port for node in self.nodes for port in (node.ingress_port, node.admin_port, node.node_port)]
        busy = [p for p in ports if port_in_use(p)]
        if busy:
            say(f"error: port(s) {', '.join(map(str, busy))} already in use (another restate-server?).")
            say("       Stop it, or pick other ports: --ingress-port/--admin-port/--node-port.")
            return 2

        if self.args.fresh and self.args.base_dir.exists():
            shutil.rmtree(self.args.base_dir)
        self.key = signing.ensure_key(self.args.base_dir / signing.KEY_FILE)
        for node in self.nodes:
            node.settings = {**node.settings, **signing.server_settings(self.key)}
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
            for node in self.nodes:
                node.settings = {**node.settings, **extra.server_settings()}
        # The patterns start while restate-server does (they need it only once they are registered).
        say(f"==> serving {len(kept)} pattern(s)")
        deployments = self._start_patterns(kept)
        if self.cluster is None:
            say(f"==> starting restate-server (data in {self.args.base_dir})")
            self.server.start()
        else:
            data = self.server.base_dir.parent
            say(f"==> starting a {len(self.nodes)}-node Restate cluster, replication 2 (data in {data})")
            self.cluster.start()
        for node in self.nodes:
            name = f"{node_name(node)} " if self.cluster else ""
            say(f"    {name}ingress {node.ingress_url}, admin {node.admin_url}  [{time.monotonic() - started:.1f}s]")

        for process in self.children:
            process.wait_ready(timeout=60)
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
        pids = [f"{node_name(node)}={node.pid}" for node in self.nodes] + [f"{c.name}={c.pid}" for c in self.children]
        say(f"    pids: {' '.join(pids)}")
        return self._watch()

    def _start_patterns(self, kept: list[Pattern]) -> dict[str, str]:
        """Ports count up from --service-port (front ends from --api-port) in alphabetical order, skipping
        ports in use: the first pattern gets 9080 as in its README, the same patterns get the same ports."""
        env = {
            **{key: value for extra in self.extras for key, value in extra.service_env().items()},
            **signing.service_env(self.key),
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
            service_env = {**env, "SERVICE_PORT": str(port)}
            self.children.append(child(pattern.name, pattern.name, service_env, f"{url}/health").start(wait=False))
            deployments[pattern.name] = url
            if pattern.has_api:
                api_port = next(api_ports)
                api_url = f"http://127.0.0.1:{api_port}"
                api_env = {**env, "API_PORT": str(api_port)}
                label = f"{pattern.name}.api"
                self.children.append(child(label, label, api_env, f"{api_url}/openapi.json").start(wait=False))
                self.front_ends[pattern.name] = api_url
        return deployments

    def _print_summary(self, kept: list[Pattern], left_out: list[Collision]) -> None:
        ingress = f"localhost:{self.server.ingress_port}"
        rows = [("PATTERN", "SERVICE", "HANDLER", "EXAMPLE")]
        for pattern in kept:
            for service, handler, example in examples(pattern.path, pattern.services, ingress):
                rows.append((pattern.name, service.name, handler.name, example))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        say()
        for row in rows:
            say(
                "  " + "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
            )
        if self.front_ends:
            say()
            for name, url in self.front_ends.items():
                say(f"  front end {name}: {url.replace('127.0.0.1', 'localhost')}")
        if left_out:
            say()
            for c in left_out:
                say(
                    f"  left out {c.pattern}: service {', '.join(c.services)} is taken by {c.taken_by}. "
                    f"Start it alone: make dev PATTERNS={c.pattern}"
                )
        say()
        say(f"  Restate UI: http://localhost:{self.server.admin_port}/ui/  (invocations, their journals, state)")
        if self.server.admin_port != 9070:
            say(f"  for the restate CLI: export RESTATE_ADMIN_URL={self.server.admin_url}")
        if self.cluster is not None:
            say()
            say(f"  a {len(self.nodes)}-node cluster: call any node's ingress, point the CLI at any node's admin API")
            for node in self.nodes:
                say(f"    {node_name(node)}: ingress {node.ingress_url}  admin {node.admin_url}")
        say()

    # -- run and stop -------------------------------------------------------------------------------
    def _watch(self) -> int:
        reported: set[str] = set()
        while not self.stopping.wait(0.5):
            for process in self.children:
                if not process.running and process.name not in reported:
                    reported.add(process.name)
                    say(f"!!! {process.name} exited with code {process.returncode}")
            for node in self.nodes:
                if node.process is not None and not node.process.running and node_name(node) not in reported:
                    reported.add(node_name(node))
                    say(f"!!! {node_name(node)} exited with code {node.process.returncode}:\n{node.log_tail()}")
            if all(node.process is not None and not node.process.running for node in self.nodes):
                return 1  # the server (or every node of the cluster) is gone
        return 0

    def on_signal(self, signum: int, _frame: object) -> None:
        if self.stopping.is_set():  # a second Ctrl-C: no more waiting
            for process in self.children:
                process.send_signal(signal.SIGKILL)
            return
        say(f"\n==> {signal.Signals(signum).name}: stopping")
        self.stopping.set()

    def stop(self) -> None:
        for process in self.children:  # all at once, then one by one
            process.send_signal(signal.SIGTERM)
        for process in self.children:
            process.stop()
        for node in self.nodes:
            node.stop()
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
    parser.add_argument(
        "--nodes", type=int, default=1, help="run a Restate cluster of this many nodes (replication 2), e.g. 3"
    )


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
