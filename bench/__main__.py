"""`python -m bench`: the Python services against the same handlers on the TypeScript SDK (JavaScript).

One native restate-server; both implementations are served side by side, and before each run the one
under test is registered with force (same service names), so the same server, the same load and the
same moment hit both. Runs alternate A B A B ... so machine noise hits both sides.

Per scenario and side: throughput at a fixed concurrency, p50/p99 latency (from wrk), and CPU
milliseconds per request of the service, of restate-server and of the load generator (/proc and
getrusage; steadier than wall time on a shared machine). Then how cost grows: echo throughput at 1 to 128
connections and the latency of one fan-out of 10 to 1000 subtasks. Results: bench/results.json and
Markdown tables (bench/README.md explains every figure).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import profile, report
from bench.candidates import ALIASES, CANDIDATES, known
from patterns import REPO_ROOT
from patterns.httpclient import http
from patterns.process import ManagedProcess, free_port, port_in_use
from patterns.restate_server import SMALL, RestateServer
from patterns.signing import KEYS_ENV

CLK_TCK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1

BOOKING = {
    "flights": {"flightId": "12345", "passengerName": "John Doe"},
    "car": {"pickupLocation": "Airport", "rentalDate": "2024-12-16"},
    "paymentInfo": {"cardNumber": "4111111111111111", "amount": 1500},
}
FEW_KEYS = 4  # accounts shared by every payment of the virtual-object storm


def fan_out_task(n: int) -> str:
    return json.dumps({"description": ",".join(f"s{i}" for i in range(n))})


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str  # {key} is replaced by a key unique to each request
    body: str | None  # None: a handler without input; {few} is replaced by one of FEW_KEYS keys
    what: str
    hypercorn: bool = False  # also measured with hypercorn serving (the scenarios the first bench had)
    connections: int | None = None  # instead of --connections (a request that is many invocations)


SCENARIOS = [
    Scenario("echo", "/echo/echo", '"hello"', "trivial handler: SDK + serving overhead", True),
    Scenario(
        "reserve", "/product/{key}/reserve", None, "durablerpc product/reserve, distinct keys: state get/set", True
    ),
    Scenario("three-steps", "/steps/threeSteps", "1", "three ctx.run steps: journal overhead", True),
    Scenario(
        "saga",
        "/BookingWorkflow/{key}/run",
        json.dumps(BOOKING),
        "sagas BookingWorkflow/run: workflow, 2 service calls, 1 ctx.run charge, 2 confirms (5 invocations; "
        "8 connections)",
        connections=8,  # five steps one after the other: at 32 connections a 3 s run completes too few
    ),
    Scenario(
        "fan-out",
        "/worker/run",
        fan_out_task(10),
        "parallelizework worker/run: 10 runSubtask calls gathered, 0 s sleeps (11 invocations; 8 connections)",
        connections=8,  # 88 invocations in flight
    ),
    Scenario(
        "vo-storm",
        "/payments/{key}/makePayment",
        '{"accountId": "{few}", "amount": 1}',
        f"statemachinepayments makePayment: distinct payments on {FEW_KEYS} accounts (contention per key)",
    ),
]

# Both sides run the pattern code with the injected failures off, the subtask sleep at 0 s and an initial
# balance no storm exhausts, so every request does the same work on both sides.
PATTERN_ENV = {
    "PATTERNS_FAILURES": "0",
    "PATTERNS_DURATION_PARALLELIZEWORK_SUBTASK": "0ms",
    "STATEMACHINEPAYMENTS_INITIAL_BALANCE": str(10**12),
}

# `thread_id` is a global: wrk's setup() runs in the main Lua state and sets it in each thread's state
# (a `local` of that name would shadow it, and every thread would send the same keys).
WRK_SCRIPT = """
local counter, threads = 0, 0
local tag = "run"
function setup(thread) threads = threads + 1; thread:set("thread_id", threads) end
function init(args) tag = args[1] or tag end
function request()
  counter = counter + 1
  local path = string.gsub(PATH, "{key}", tag .. "-" .. thread_id .. "-" .. counter)
  local body = BODY
  if body then body = string.gsub(body, "{few}", "acct-" .. (counter % FEW)) end
  return wrk.format("POST", path, HEADERS, body)
end
"""


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live descendants (servers with worker processes)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
    for child in children(pid):
        total += cpu_seconds(child)
    return total


def machine_busy(since: tuple[int, int] | None = None) -> Any:
    """The machine's CPU counters (busy, total) from /proc/stat; with `since`: the busy share since then."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy, total = sum(fields) - fields[3] - fields[4], sum(fields)  # all but idle and iowait
    if since is None:
        return busy, total
    return (busy - since[0]) / max(total - since[1], 1)


def context_switches(pid: int) -> int:
    """Times the threads of a process and its live descendants gave up or lost the CPU (each a wake-up)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except FileNotFoundError:  # the thread ended
            continue
        total += sum(int(n) for n in re.findall(r"^(?:non)?voluntary_ctxt_switches:\s+(\d+)", status, re.MULTILINE))
    return total + sum(context_switches(child) for child in children(pid))


def children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


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

    @property
    def pid(self) -> int:
        assert self.process is not None and self.process.pid is not None
        return self.process.pid

    def start(self, log_dir: Path, timeout: float = 60) -> None:
        self.port = free_port()
        self.process = ManagedProcess(
            f"the {self.name} side",
            self.command,
            env={**PATTERN_ENV, **self.env, "SERVICE_HOST": "127.0.0.1", "SERVICE_PORT": str(self.port)},
            log=log_dir / f"{self.name}.log",
            # The JavaScript SDK serves HTTP/2 only (httpx speaks HTTP/1.1 here): wait for the port to open.
            ready=lambda: port_in_use(self.port),
            stop_timeout=10,
        )
        self.process.start(timeout)

    def event_loop_pid(self) -> int:
        """The process running the handlers: granian's worker, else the process itself."""
        found = children(self.pid)
        return found[0] if found else self.pid

    def activate(self, admin_url: str) -> None:
        """Register this side with force: from now on the server sends these services' calls here."""
        response = http.post(
            f"{admin_url}/deployments",
            json={"uri": self.url, "force": True, "use_http_11": self.use_http_11},
            timeout=30,
        )
        response.raise_for_status()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def client_cpu() -> float:
    """CPU seconds of this process and its waited-for children (wrk runs to completion as a child)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class Load:
    """wrk when installed (a C load generator); else a multi-threaded Python one (smoke runs only)."""

    def __init__(self, ingress: str, script_dir: Path, threads: int = 2) -> None:
        self.ingress, self.threads = ingress, threads
        self.wrk: str | None = shutil.which("wrk")
        self._script_dir = script_dir  # wrk's Lua scripts (the run's work folder, removed at the end)

    def run(self, scenario: Scenario, seconds: float, tag: str, connections: int) -> dict[str, float]:
        if self.wrk:
            return self._wrk(scenario, seconds, tag, connections)
        return self._python(scenario, seconds, tag, connections)

    def _wrk(self, scenario: Scenario, seconds: float, tag: str, connections: int) -> dict[str, float]:
        assert self.wrk is not None
        headers = "{}" if scenario.body is None else '{["content-type"] = "application/json"}'
        body = "nil" if scenario.body is None else json.dumps(scenario.body)
        script = self._script_dir / f"{scenario.name}.lua"
        script.write_text(
            f"PATH = {json.dumps(scenario.path)}\nHEADERS = {headers}\nBODY = {body}\nFEW = {FEW_KEYS}\n{WRK_SCRIPT}"
        )
        threads = min(self.threads, connections)
        result = subprocess.run(
            [self.wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "60s"]
            + ["--latency"]
            + ["-s", str(script), self.ingress, "--", tag],
            capture_output=True,
            text=True,
            timeout=seconds + 90,
        )
        if result.returncode != 0:
            raise RuntimeError(f"wrk failed: {result.stderr or result.stdout}")
        return parse_wrk(result.stdout)

    def _python(self, scenario: Scenario, seconds: float, tag: str, connections: int) -> dict[str, float]:
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
                        body = scenario.body.replace("{few}", f"acct-{count % FEW_KEYS}")
                        response = http.post(path, content=body, headers={"content-type": "application/json"})
                    elapsed = time.perf_counter() - started
                    with lock:
                        latencies.append(elapsed)
                        errors += response.status_code != 200

        pool = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
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


@dataclass
class Bench:
    server: RestateServer
    load: Load
    seconds: float
    warmup: float
    runs: int = 0
    began: float = field(default_factory=time.monotonic)

    def progress(self, what: str) -> None:
        print(f"[{time.monotonic() - self.began:5.0f} s] {what}", flush=True)

    def measure(self, side: Side, scenario: Scenario, tag: str, connections: int) -> dict[str, float]:
        """One measured run: activate `side`, warm up, then drive `scenario` and read every party's CPU."""
        self.runs += 1
        side.activate(self.server.admin_url)
        if self.warmup:
            self.load.run(scenario, self.warmup, f"warm-{tag}", connections)
        assert self.server.pid is not None
        loop_pid = side.event_loop_pid()
        switches = context_switches(side.pid)
        before = cpu_seconds(side.pid), cpu_seconds(self.server.pid), client_cpu(), profile.thread_cpu(loop_pid)
        started = time.monotonic()
        machine = machine_busy()
        run = self.load.run(scenario, self.seconds, tag, connections)
        wall = time.monotonic() - started
        after = cpu_seconds(side.pid), cpu_seconds(self.server.pid), client_cpu(), profile.thread_cpu(loop_pid)
        run["machine_busy"] = machine_busy(machine)
        requests = max(run["requests"], 1)
        run["cpu_ms_per_request"] = (after[0] - before[0]) * 1000 / requests
        run["server_cpu_ms_per_request"] = (after[1] - before[1]) * 1000 / requests
        run["client_cpu_ms_per_request"] = (after[2] - before[2]) * 1000 / requests
        # Busy share of the thread that runs the handlers (Python: the event loop; JS: node's main thread).
        run["event_loop_busy"] = (after[3].get(loop_pid, 0) - before[3].get(loop_pid, 0)) / wall
        run["context_switches_per_request"] = (context_switches(side.pid) - switches) / requests
        run["loadavg"] = os.getloadavg()[0]
        self.drain()
        return run

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until the invocations the load left running have finished (wrk stops mid-request), so that
        they do not load the next run."""
        deadline = time.monotonic() + timeout
        query = "select count(*) as n from sys_invocation where status not in ('completed', 'scheduled', 'paused')"
        while time.monotonic() < deadline:
            response = http.post(
                f"{self.server.admin_url}/query", json={"query": query}, headers={"accept": "application/json"}
            )
            if response.status_code == 200 and response.json()["rows"][0]["n"] == 0:
                return
            time.sleep(0.1)
        print(f"invocations still running after {timeout:.0f} s; going on", flush=True)

    def fan_out_latency(self, side: Side, n: int, count: int) -> dict[str, float]:
        """Latency of one `worker/run` with `n` subtasks, one request at a time (`count` of them)."""
        side.activate(self.server.admin_url)
        assert self.server.pid is not None
        body = fan_out_task(n)
        latencies: list[float] = []
        service0, server0 = cpu_seconds(side.pid), cpu_seconds(self.server.pid)
        with httpx.Client(base_url=self.server.ingress_url, timeout=120) as http:
            for _ in range(count):
                started = time.perf_counter()
                response = http.post("/worker/run", content=body, headers={"content-type": "application/json"})
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200 or response.json()["description"].count("DONE") != n:
                    raise RuntimeError(f"fan-out of {n} on {side.name}: {response.status_code} {response.text[:200]}")
        service1, server1 = cpu_seconds(side.pid), cpu_seconds(self.server.pid)
        invocations = count * (n + 1)
        return {
            "latency_ms": round(statistics.median(latencies) * 1000, 1),
            "requests": count,
            "subtasks_per_s": round(n / statistics.median(latencies), 1),
            "cpu_ms_per_subtask": round((service1 - service0) * 1000 / invocations, 3),
            "server_cpu_ms_per_subtask": round((server1 - server0) * 1000 / invocations, 3),
            "loadavg": os.getloadavg()[0],
        }

    def profile(self, side: Side, scenario: Scenario, connections: int, svg: Path, raw: Path) -> dict[str, Any]:
        """py-spy on the Python side's event loop during one run of `scenario` (bench/profile.py)."""
        side.activate(self.server.admin_url)
        self.load.run(scenario, max(self.warmup, 1.0), f"warm-profile-{side.name}", connections)
        pid = side.event_loop_pid()
        before = profile.thread_cpu(pid)
        spy = profile.record(pid, self.seconds, raw)
        time.sleep(0.5)  # py-spy attaches
        run = self.load.run(scenario, self.seconds, f"profile-{side.name}", connections)
        after = profile.thread_cpu(pid)
        _, err = spy.communicate(timeout=self.seconds + 60)
        if spy.returncode != 0 or not raw.exists():
            raise RuntimeError(f"py-spy failed: {err.decode()}")
        result = profile.analyse(profile.read_stacks(raw), before, after, pid, run["requests"])
        stacks: Counter[profile.Stack] = result.pop("busy_stacks")
        title = f"{scenario.name} ({side.name}): the event-loop thread's busy samples. {scenario.what}"
        svg.write_text(profile.flamegraph_svg(profile.trimmed(stacks), title))
        result["rps_while_profiled"] = run["rps"]
        self.drain()
        return result


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def same_answers(server: RestateServer, sides: list[Side], scenarios: list[Scenario]) -> None:
    """One request of each scenario on each side: every side must answer 200 and the same body (random ids
    aside), so the sides do the same work."""
    answers: dict[str, dict[str, str]] = {}
    for side in sides:
        side.activate(server.admin_url)
        for scenario in scenarios:
            path = scenario.path.replace("{key}", f"check-{side.name}")
            body = None if scenario.body is None else scenario.body.replace("{few}", "acct-check")
            headers = {} if body is None else {"content-type": "application/json"}
            response = http.post(server.ingress_url + path, content=body, headers=headers, timeout=60)
            if response.status_code != 200:
                raise RuntimeError(f"{scenario.name} on {side.name}: {response.status_code} {response.text[:300]}")
            text = _UUID.sub("<uuid>", response.text.replace(f"check-{side.name}", "<key>"))
            answers.setdefault(scenario.name, {})[side.name] = json.dumps(json.loads(text), sort_keys=True)
    for scenario_name, by_side in answers.items():
        if len(set(by_side.values())) > 1:
            raise RuntimeError(f"the sides answer {scenario_name} differently: {by_side}")


def summarise(runs: list[dict[str, float]]) -> dict[str, float]:
    """Median over the alternated runs of one side."""
    keys = (
        "rps",
        "p50_ms",
        "p99_ms",
        "cpu_ms_per_request",
        "server_cpu_ms_per_request",
        "client_cpu_ms_per_request",
        "event_loop_busy",
        "machine_busy",
        "context_switches_per_request",
        "loadavg",
    )
    summary = {key: round(statistics.median(run[key] for run in runs), 3) for key in keys}
    summary["errors"] = sum(run["errors"] for run in runs)
    summary["runs"] = len(runs)
    # Throughput if restate-server had this machine to itself: the ceiling the server's own work sets.
    server_ms = summary["server_cpu_ms_per_request"]
    summary["server_ceiling_rps"] = round(CORES * 1000 / server_ms, 1) if server_ms else 0.0
    summary["share_of_server_ceiling"] = (
        round(summary["rps"] / summary["server_ceiling_rps"], 3) if summary["server_ceiling_rps"] else 0.0
    )
    summary["bound"] = bound(summary)  # type: ignore[assignment]
    return summary


def bound(s: dict[str, float]) -> str:
    """What limits a run: the service's single event-loop thread, the machine's CPU (and which of our
    processes takes most of it), or neither (latency-bound: too few requests in flight)."""
    shares = {
        "server": s["server_cpu_ms_per_request"],
        "service": s["cpu_ms_per_request"],
        "client": s["client_cpu_ms_per_request"],
    }
    if s["event_loop_busy"] >= 0.85:
        return "service (event loop saturated)"
    if s["machine_busy"] >= 0.9:  # the neighbours' processes count: they take the same cores
        top = max(shares, key=lambda k: shares[k])
        return f"CPU ({top} {100 * shares[top] / sum(shares.values()):.0f} %)"
    return "latency (CPU not saturated)"


def compare(py: dict[str, float], js: dict[str, float]) -> dict[str, float | None]:
    def ratio(key: str) -> float | None:
        return round(py[key] / js[key], 3) if js[key] else None

    return {"throughput_ratio": ratio("rps"), "p50_ratio": ratio("p50_ms"), "cpu_ratio": ratio("cpu_ms_per_request")}


PYTHON_SERVERS = ("granian", "hypercorn")  # the first is the default of patterns.serving
SCALING_CONNECTIONS = (1, 8, 32, 128)
FAN_OUT_SIZES = {10: 6, 100: 3, 1000: 1}  # subtasks: requests measured (one at a time)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="A/B alternations per scenario")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds of load before each measured run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--scenarios", nargs="*", default=[s.name for s in SCENARIOS])
    parser.add_argument(
        "--python-servers",
        nargs="*",
        choices=PYTHON_SERVERS,
        default=list(PYTHON_SERVERS),
        help="how `python -m <pattern>` serves (PATTERNS_SERVER): each one is measured against JS",
    )
    parser.add_argument(
        "--candidates",
        nargs="*",
        default=[],
        help=f"changes to measure against the default serving, alone or joined by '+': {', '.join(CANDIDATES)}",
    )
    parser.add_argument("--no-js", action="store_true", help="leave the JavaScript side out (candidate runs)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling runs")
    parser.add_argument("--profile", action="store_true", help="py-spy the Python sides, per scenario")
    parser.add_argument("--keep-stacks", action="store_true", help="with --profile: keep py-spy's stacks by the SVGs")
    parser.add_argument("--python-http11", action="store_true", help="register the Python side as HTTP/1.1")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results.json")
    parser.add_argument("--smoke", action="store_true", help="a tiny run that checks the runner works")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.seconds, args.warmup, args.connections = 1, 1.0, 0.0, 4
        args.scenarios = args.scenarios[:1] if args.scenarios == [s.name for s in SCENARIOS] else args.scenarios
        args.python_servers = args.python_servers[:1]
        args.no_scaling = True
    for candidate in args.candidates:
        if not known(candidate):
            parser.error(f"unknown candidate in {candidate}; known: {', '.join([*CANDIDATES, *ALIASES])}")
    scenarios = [s for s in SCENARIOS if s.name in args.scenarios]
    began = time.monotonic()

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    server = RestateServer.on_free_ports(work / "restate", settings=SMALL)
    python = [sys.executable, "-m", "bench.serve_python"]
    # The Python side is served exactly as `python -m <pattern>` serves (patterns.serving.serve).
    sides = [
        Side(
            f"python-{name}",
            python,
            {"PATTERNS_SERVER": name, KEYS_ENV: ""},  # unsigned, as the JS side (the server here does not sign)
            args.python_http11,
        )
        for name in args.python_servers
    ]
    sides += [
        Side(
            f"python-{c}",
            python,
            {"PATTERNS_SERVER": "granian", "BENCH_CANDIDATE": c, KEYS_ENV: ""},
            args.python_http11,
        )
        for c in args.candidates
    ]
    if not args.no_js and not args.profile:
        sides.append(
            Side(
                "js",
                ["node", "--import", "./bench/js/polyfill.mjs", "bench/js/services.mjs"],
                {"RESTATE_LOGGING": "WARN", "NODE_PATH": str(REPO_ROOT / "node_modules")},
            )
        )
    load = Load(server.ingress_url, work)
    bench = Bench(server, load, args.seconds, args.warmup)
    results: dict[str, Any] = {
        "machine": {"cpus": CORES, "python": sys.version.split()[0], "node": node_version()},
        "load": {
            "generator": "wrk" if load.wrk else "python threads",
            "connections": args.connections,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "python_registration": "HTTP/1.1 request-response" if args.python_http11 else "HTTP/2 bidi",
            "loadavg_at_start": list(os.getloadavg()),
        },
        "scenarios": {},
    }
    try:
        server.start()
        for side in sides:
            bench.progress(f"starting {side.name}")
            side.start(work)
        bench.progress("checking that the sides answer every scenario alike")
        same_answers(server, [s for s in sides if s is sides[0] or s.name == "js"], SCENARIOS)
        if args.profile:
            # The default's flame graphs are bench/flame-<scenario>.svg; a candidate's get its name appended.
            results = {
                "machine": results["machine"],
                "load": {"loadavg_at_start": list(os.getloadavg())},
                "profiles": {},
            }
            args.out = args.out.with_name("profile.json") if args.out.name == "results.json" else args.out
            for side in sides:
                suffix = "" if side is sides[0] and args.python_servers else f"-{side.name.removeprefix('python-')}"
                for scenario in scenarios:
                    bench.progress(f"profiling {scenario.name} on {side.name}")
                    svg = args.out.parent / f"flame-{scenario.name}{suffix}.svg"
                    raw = (args.out.parent if args.keep_stacks else work) / f"flame-{scenario.name}{suffix}.stacks"
                    connections = scenario.connections or args.connections
                    result = bench.profile(side, scenario, connections, svg, raw)
                    results["profiles"].setdefault(side.name, {})[scenario.name] = result
        else:
            health = Scenario("health", "/restate/health", None, "")
            results["load"]["generator_ceiling_rps"] = round(
                load.run(health, min(2.0, args.seconds), "h", args.connections)["rps"], 1
            )
            for scenario in scenarios:
                results["scenarios"][scenario.name] = run_scenario(bench, scenario, sides, args)
            if not args.no_scaling and any(s.name == "js" for s in sides):
                results["scaling"] = run_scaling(bench, sides, args, results)
    finally:
        for side in sides:
            side.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    results.setdefault("load", {})["loadavg_at_end"] = list(os.getloadavg())
    results["load"]["wall_seconds"] = round(time.monotonic() - began, 1)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(report.profile_tables(results) if args.profile else report.tables(results))
    print(f"\nresults: {args.out}")
    return 0


def run_scenario(bench: Bench, scenario: Scenario, sides: list[Side], args: argparse.Namespace) -> dict[str, Any]:
    here = [s for s in sides if scenario.hypercorn or s.name != "python-hypercorn"]
    runs: dict[str, list[dict[str, float]]] = {side.name: [] for side in here}
    for round_ in range(args.rounds):
        for side in here:
            bench.progress(f"{scenario.name} round {round_ + 1} {side.name}")
            connections = scenario.connections or args.connections
            runs[side.name].append(bench.measure(side, scenario, f"{side.name}{round_}", connections))
    entry: dict[str, Any] = {"what": scenario.what}
    summaries = {name: summarise(side_runs) for name, side_runs in runs.items()}
    js = summaries.pop("js", None)
    if js is not None:
        entry["js"] = js
    default = summaries.get(f"python-{args.python_servers[0]}") if args.python_servers else None
    for name, py in summaries.items():
        entry[entry_key(name)] = {**py, **(compare(py, js) if js else {})}
        if default is not None and py is not default:
            entry[entry_key(name)]["vs_default"] = {
                "throughput": round(py["rps"] / default["rps"], 3),
                "cpu": round(py["cpu_ms_per_request"] / default["cpu_ms_per_request"], 3),
                "context_switches": round(
                    py["context_switches_per_request"] / max(default["context_switches_per_request"], 1e-9), 3
                ),
            }
    if default is not None:
        # The default serving (the first Python server) is "python", with the ratios at the top level.
        entry["python"] = entry[entry_key(f"python-{args.python_servers[0]}")]
        if js:
            entry.update(compare(default, js))
    return entry


def entry_key(side: str) -> str:
    """results.json's key of a side: python_granian, python_hypercorn, candidate_<name>, js."""
    name = side.removeprefix("python-")
    if name == side:
        return side
    return f"python_{name}" if name in PYTHON_SERVERS else f"candidate_{name}"


def run_scaling(bench: Bench, sides: list[Side], args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    """Echo throughput against connections, and one fan-out's latency against its number of subtasks."""
    pair = [s for s in sides if s.name in (f"python-{args.python_servers[0]}", "js")]
    echo = next(s for s in SCENARIOS if s.name == "echo")
    scaling: dict[str, Any] = {"echo_connections": {}, "fan_out_latency": {}}
    for connections in SCALING_CONNECTIONS:
        row: dict[str, Any] = {}
        main_echo = results["scenarios"].get("echo")
        if connections == args.connections and main_echo:
            row = {"python": main_echo["python"], "js": main_echo["js"]}
        else:
            for side in pair:
                bench.progress(f"scaling: echo at {connections} connections {side.name}")
                run = bench.measure(side, echo, f"c{connections}-{side.name}", connections)
                row["js" if side.name == "js" else "python"] = summarise([run])
        row["throughput_ratio"] = round(row["python"]["rps"] / row["js"]["rps"], 3)
        scaling["echo_connections"][str(connections)] = row
    for n, count in FAN_OUT_SIZES.items():
        row = {}
        for side in pair:
            bench.progress(f"scaling: fan-out of {n} ({count} requests) {side.name}")
            row["js" if side.name == "js" else "python"] = bench.fan_out_latency(side, n, count)
        row["latency_ratio"] = round(row["python"]["latency_ms"] / row["js"]["latency_ms"], 3)
        scaling["fan_out_latency"][str(n)] = row
    return scaling


def node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
