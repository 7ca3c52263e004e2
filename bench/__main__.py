"""`python -m bench`: the Python services against the same handlers on the TypeScript SDK (JavaScript).

One native restate-server; both implementations are served side by side, and before each run the one
under test is registered with force (same service names), so the same server, the same load and the
same moment hit both. Runs alternate A B A B ... so machine noise hits both sides.

Per scenario and side: throughput at a fixed concurrency, p50/p99 latency (from wrk), and CPU seconds per
1000 requests of the service process (/proc; steadier than wall time on a shared machine).
Results: bench/results.json and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from patterns import REPO_ROOT
from patterns.process import ManagedProcess, free_port, port_in_use
from patterns.restate_server import SMALL, RestateServer
from patterns.signing import KEYS_ENV

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str  # {key} is replaced by a key unique to each request
    body: str | None  # None: a handler without input (no body, no content-type)
    what: str


SCENARIOS = [
    Scenario("echo", "/echo/echo", '"hello"', "trivial handler: SDK + serving overhead"),
    Scenario("reserve", "/product/{key}/reserve", None, "durablerpc product/reserve, distinct keys: state get/set"),
    Scenario("three-steps", "/steps/threeSteps", "1", "three ctx.run steps: journal overhead"),
]

WRK_SCRIPT = """
local counter, tid = 0, 0
local tag = "run"
function setup(thread) tid = tid + 1; thread:set("tid", tid) end
function init(args) tag = args[1] or tag end
function request()
  counter = counter + 1
  local path = string.gsub(PATH, "{key}", tag .. "-" .. tid .. "-" .. counter)
  return wrk.format("POST", path, HEADERS, BODY)
end
"""


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live descendants (servers with worker processes)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += cpu_seconds(int(child))
    return total


@dataclass
class Side:
    name: str
    command: list[str]
    env: dict[str, str]
    use_http_11: bool = False
    process: ManagedProcess | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_dir: Path) -> None:
        self.port = free_port()
        self.process = ManagedProcess(
            f"the {self.name} side",
            self.command,
            env={**self.env, "SERVICE_HOST": "127.0.0.1", "SERVICE_PORT": str(self.port)},
            log=log_dir / f"{self.name}.log",
            # The JavaScript SDK serves HTTP/2 only (httpx speaks HTTP/1.1 here): wait for the port to open.
            ready=lambda: port_in_use(self.port),
            stop_timeout=10,
        )
        self.process.start()

    def activate(self, admin_url: str) -> None:
        """Register this side with force: from now on the server sends these services' calls here."""
        response = httpx.post(
            f"{admin_url}/deployments",
            json={"uri": self.url, "force": True, "use_http_11": self.use_http_11},
            timeout=30,
        )
        response.raise_for_status()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class Load:
    """wrk when installed (a C load generator); else a multi-threaded Python one (smoke runs only)."""

    def __init__(self, ingress: str, connections: int, threads: int) -> None:
        self.ingress, self.connections, self.threads = ingress, connections, threads
        self.wrk: str | None = shutil.which("wrk")
        self._script_dir = Path(tempfile.mkdtemp(prefix="bench-wrk-"))

    def run(self, scenario: Scenario, seconds: float, tag: str) -> dict[str, float]:
        if self.wrk:
            return self._wrk(scenario, seconds, tag)
        return self._python(scenario, seconds, tag)

    def _wrk(self, scenario: Scenario, seconds: float, tag: str) -> dict[str, float]:
        assert self.wrk is not None
        headers = "{}" if scenario.body is None else '{["content-type"] = "application/json"}'
        body = "nil" if scenario.body is None else json.dumps(scenario.body)
        script = self._script_dir / f"{scenario.name}.lua"
        script.write_text(f"PATH = {json.dumps(scenario.path)}\nHEADERS = {headers}\nBODY = {body}\n{WRK_SCRIPT}")
        result = subprocess.run(
            [self.wrk, f"-t{self.threads}", f"-c{self.connections}", f"-d{max(1, round(seconds))}s", "--latency"]
            + ["-s", str(script), self.ingress, "--", tag],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"wrk failed: {result.stderr or result.stdout}")
        return parse_wrk(result.stdout)

    def _python(self, scenario: Scenario, seconds: float, tag: str) -> dict[str, float]:
        latencies: list[float] = []
        errors = 0
        deadline = time.monotonic() + seconds
        lock = threading.Lock()

        def worker(index: int) -> None:
            nonlocal errors
            count = 0
            with httpx.Client(base_url=self.ingress, timeout=30) as http:
                while time.monotonic() < deadline:
                    count += 1
                    path = scenario.path.replace("{key}", f"{tag}-{index}-{count}")
                    started = time.perf_counter()
                    if scenario.body is None:
                        response = http.post(path)
                    else:
                        response = http.post(path, content=scenario.body, headers={"content-type": "application/json"})
                    elapsed = time.perf_counter() - started
                    with lock:
                        latencies.append(elapsed)
                        errors += response.status_code != 200

        pool = [threading.Thread(target=worker, args=(i,)) for i in range(self.connections)]
        started = time.monotonic()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        wall = time.monotonic() - started
        quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
        return {
            "requests": len(latencies),
            "rps": len(latencies) / wall,
            "p50_ms": quantiles[49] * 1000,
            "p99_ms": quantiles[98] * 1000,
            "errors": errors,
        }


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict[str, float]:
    def latency(percent: str) -> float:
        match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if not match:
            raise RuntimeError(f"no {percent}% latency in wrk output:\n{output}")
        return float(match[1]) * _UNITS[match[2]]

    requests = re.search(r"(\d+) requests in", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if not requests or not rps:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return {
        "requests": float(requests[1]),
        "rps": float(rps[1]),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": float(non_2xx[1] if non_2xx else 0)
        + (sum(map(float, socket_errors.groups())) if socket_errors else 0),
    }


def summarise(runs: list[dict[str, float]]) -> dict[str, float]:
    """Median over the alternated runs of one side."""
    keys = ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request", "server_cpu_ms_per_request")
    summary = {key: round(statistics.median(run[key] for run in runs), 3) for key in keys}
    summary["errors"] = sum(run["errors"] for run in runs)
    summary["runs"] = len(runs)
    return summary


PYTHON_SERVERS = ("granian", "hypercorn")  # the first is the default of patterns.serving


def compare(py: dict[str, float], js: dict[str, float]) -> dict[str, float | None]:
    def ratio(key: str) -> float | None:
        return round(py[key] / js[key], 3) if js[key] else None

    return {"throughput_ratio": ratio("rps"), "p50_ratio": ratio("p50_ms"), "cpu_ratio": ratio("cpu_ms_per_request")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="A/B alternations per scenario")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each measured run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--scenarios", nargs="*", default=[s.name for s in SCENARIOS])
    parser.add_argument(
        "--python-servers",
        nargs="*",
        choices=PYTHON_SERVERS,
        default=list(PYTHON_SERVERS),
        help="how `python -m <pattern>` serves (PATTERNS_SERVER): each one is measured against JS",
    )
    parser.add_argument("--python-http11", action="store_true", help="register the Python side as HTTP/1.1")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results.json")
    parser.add_argument("--smoke", action="store_true", help="a tiny run that checks the runner works")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.seconds, args.warmup, args.connections = 1, 1.0, 0.0, 4
        args.scenarios = args.scenarios[:1] if args.scenarios == [s.name for s in SCENARIOS] else args.scenarios
        args.python_servers = args.python_servers[:1]
    scenarios = [s for s in SCENARIOS if s.name in args.scenarios]

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    server = RestateServer.on_free_ports(work / "restate", settings=SMALL)
    # The Python side is served exactly as `python -m <pattern>` serves (patterns.serving.serve).
    sides = [
        Side(
            f"python-{name}",
            [sys.executable, "-m", "bench.serve_python"],
            {"PATTERNS_SERVER": name, KEYS_ENV: ""},  # unsigned, as the JS side (the server here does not sign)
            args.python_http11,
        )
        for name in args.python_servers
    ]
    sides.append(
        Side(
            "js",
            ["node", "--import", "./bench/js/polyfill.mjs", "bench/js/services.mjs"],
            {"RESTATE_LOGGING": "WARN", "NODE_PATH": str(REPO_ROOT / "node_modules")},
        )
    )
    load = Load(server.ingress_url, args.connections, threads=2 if args.connections >= 2 else 1)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "node": node_version()},
        "load": {
            "generator": "wrk" if load.wrk else "python threads",
            "connections": args.connections,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "python_registration": "HTTP/1.1 request-response" if args.python_http11 else "HTTP/2 bidi",
        },
        "scenarios": {},
    }
    try:
        server.start()
        for side in sides:
            side.start(work)
        health = Scenario("health", "/restate/health", None, "")
        results["load"]["generator_ceiling_rps"] = round(load.run(health, min(2.0, args.seconds), "h")["rps"], 1)
        total = len(scenarios) * args.rounds * len(sides)
        done = 0
        for scenario in scenarios:
            runs: dict[str, list[dict[str, float]]] = {side.name: [] for side in sides}
            for round_ in range(args.rounds):
                for side in sides:
                    done += 1
                    print(f"[{done}/{total}] {scenario.name} round {round_ + 1} {side.name}", flush=True)
                    side.activate(server.admin_url)
                    tag = f"{side.name}{round_}"
                    if args.warmup:
                        load.run(scenario, args.warmup, f"warm-{tag}")
                    assert side.process is not None and side.process.pid and server.pid
                    cpu0, server0 = cpu_seconds(side.process.pid), cpu_seconds(server.pid)
                    run = load.run(scenario, args.seconds, tag)
                    cpu1, server1 = cpu_seconds(side.process.pid), cpu_seconds(server.pid)
                    requests = max(run["requests"], 1)
                    run["cpu_ms_per_request"] = (cpu1 - cpu0) * 1000 / requests
                    run["server_cpu_ms_per_request"] = (server1 - server0) * 1000 / requests
                    runs[side.name].append(run)
            js = summarise(runs["js"])
            entry: dict[str, Any] = {"what": scenario.what, "js": js}
            for name in args.python_servers:
                py = summarise(runs[f"python-{name}"])
                entry[f"python_{name}"] = {**py, **compare(py, js)}
            # The default serving (the first Python server) is "python", with the ratios at the top level.
            default = entry[f"python_{args.python_servers[0]}"]
            entry["python"] = default
            entry.update(compare(default, js))
            results["scenarios"][scenario.name] = entry
    finally:
        for side in sides:
            side.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results, args.python_servers))
    print(f"\nresults: {args.out}")
    return 0


def node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()


def table(results: dict[str, Any], python_servers: list[str]) -> str:
    load = results["load"]
    lines = [
        f"{load['connections']} connections, {load['seconds']:g} s x {load['rounds']} alternations per side, "
        f"{load['generator']} (ceiling {load.get('generator_ceiling_rps', '?')} req/s on the health endpoint), "
        f"Python registered as {load['python_registration']}; medians",
        "",
        "| scenario | Python served by | Python req/s | JS req/s | throughput ratio | Python p50 ms | JS p50 ms "
        "| p50 ratio | Python p99 ms | JS p99 ms | Python CPU ms/req | JS CPU ms/req | CPU ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in results["scenarios"].items():
        js = s["js"]
        for server in python_servers:
            py = s[f"python_{server}"]
            lines.append(
                f"| {name} | {server} | {py['rps']:.0f} | {js['rps']:.0f} | {py['throughput_ratio']} "
                f"| {py['p50_ms']:.1f} | {js['p50_ms']:.1f} | {py['p50_ratio']} | {py['p99_ms']:.1f} "
                f"| {js['p99_ms']:.1f} | {py['cpu_ms_per_request']:.2f} | {js['cpu_ms_per_request']:.2f} "
                f"| {py['cpu_ratio']} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
