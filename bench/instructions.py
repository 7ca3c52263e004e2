"""`python -m bench.instructions`: CPU instructions per request of the Python side, per candidate.

Wall time and even CPU time per request move by 10-30 % on a shared machine (other processes evict the
caches and preempt ours), too much to rank changes worth 5-15 %. The number of instructions a request
executes does not depend on the neighbours: the Python side runs under valgrind's callgrind with
instrumentation off, is warmed up, then counts exactly `--requests` requests (`--concurrency` in flight)
of each scenario. Kernel time (system calls) is not in the count; `python -m bench --candidates` gives
the end-to-end figures. Slow (valgrind runs Python ~50x slower): a few minutes per candidate. (Node under
callgrind does not reach a steady state, V8 tiering its code up for thousands of requests: the JavaScript
side is not counted.)

    python -m bench.instructions --candidates uvloop st-runtime --scenarios echo saga
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from bench.__main__ import FEW_KEYS, PATTERN_ENV, SCENARIOS, Scenario, Side
from bench.candidates import ALIASES, CANDIDATES, known
from patterns.restate_server import SMALL, RestateServer


async def drive(ingress: str, scenario: Scenario, requests: int, concurrency: int, tag: str) -> None:
    """Exactly `requests` requests, `concurrency` at a time; every one must succeed."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)

    async def client(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            path = scenario.path.replace("{key}", f"{tag}-{i}")
            body = None if scenario.body is None else scenario.body.replace("{few}", f"acct-{i % FEW_KEYS}")
            headers = {} if body is None else {"content-type": "application/json"}
            response = await http.post(path, content=body, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{scenario.name}: {response.status_code} {response.text[:200]}")

    async with httpx.AsyncClient(base_url=ingress, timeout=600) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))


def callgrind(pid: int, *command: str) -> None:
    """Zero the counters (-z), turn counting on or off (-i on|off), or dump them (-d) in process `pid`."""
    subprocess.run(["callgrind_control", *command, str(pid)], check=True, capture_output=True)


def instructions(dump_dir: Path, name: str, pid: int) -> int:
    """Total instructions of the newest callgrind dump of `pid`."""
    dumps = sorted(dump_dir.glob(f"cg.{name}.{pid}.*"), key=lambda p: int(p.suffix[1:]))
    match = re.search(r"^totals: (\d+)", dumps[-1].read_text(), re.MULTILINE)
    if not match:
        raise RuntimeError(f"no totals in {dumps[-1]}")
    return int(match[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", nargs="*", default=[], help="measured after the default")
    parser.add_argument("--scenarios", nargs="*", default=["echo", "reserve", "three-steps", "saga"])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=40)
    args = parser.parse_args(argv)
    for candidate in args.candidates:
        if not known(candidate):
            parser.error(f"unknown candidate in {candidate}; known: {', '.join([*CANDIDATES, *ALIASES])}")
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is needed: apt-get install valgrind")
    scenarios = [s for s in SCENARIOS if s.name in args.scenarios]
    work = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    server = RestateServer.on_free_ports(work / "restate", settings=SMALL)
    table: dict[str, dict[str, float]] = {}
    try:
        server.start()
        for candidate in ["default", *args.candidates]:
            name = candidate.replace("+", "_")
            valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--trace-children=yes"]
            valgrind.append(f"--callgrind-out-file={work}/cg.{name}.%p")
            command = [sys.executable, "-m", "bench.serve_python"]
            env = {"PATTERNS_SERVER": "granian", "BENCH_CANDIDATE": "" if candidate == "default" else candidate}
            side = Side(name, [*valgrind, *command], {**PATTERN_ENV, **env})
            print(f"starting {candidate} under valgrind", flush=True)
            side.start(work, timeout=600)
            try:
                side.activate(server.admin_url)
                worker = side.event_loop_pid()
                for scenario in scenarios:
                    asyncio.run(drive(server.ingress_url, scenario, args.warmup, args.concurrency, f"w{name}"))
                    callgrind(worker, "-z")
                    callgrind(worker, "-i", "on")
                    asyncio.run(drive(server.ingress_url, scenario, args.requests, args.concurrency, f"m{name}"))
                    callgrind(worker, "-d")
                    callgrind(worker, "-i", "off")
                    per_request = instructions(work, name, worker) / args.requests
                    table.setdefault(scenario.name, {})[candidate] = per_request
                    print(f"  {scenario.name}: {per_request / 1e3:.0f} k instructions per request", flush=True)
            finally:
                assert side.process is not None
                side.process.stop(timeout=120)  # callgrind writes its files on the way out
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    candidates = ["default", *args.candidates]
    print()
    print("| scenario | " + " | ".join(candidates) + " |")
    print("|---" * (len(candidates) + 1) + "|")
    for scenario_name, row in table.items():
        base = row["default"]
        cells = [f"{row['default'] / 1e3:.0f} k"] + [
            f"{row[c] / 1e3:.0f} k ({row[c] / base:.3f})" for c in candidates[1:] if c in row
        ]
        print(f"| {scenario_name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
