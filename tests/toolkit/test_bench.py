"""A tiny run of the benchmark runner (`python -m bench --smoke`): it serves both sides, checks that they
answer every scenario alike, drives load, and writes results. No timing assertions: this machine is too
noisy for them (figures in the README). Plus the profile analysis on a made-up py-spy recording."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import profile
from patterns import REPO_ROOT

LOOP = "thread (100): MainThread;_run_module_as_main (<frozen runpy>:1);MPServer._spawn_asgi_worker (granian/mp.py:1)"
APP = f"{LOOP};asgi_app.<locals>.app (restate/server.py:358)"
RAW = f"""\
{LOOP};EpollSelector.select (selectors.py:468);epoll_wait (libc.so.6) 50
{APP};VMWrapper.sys_input (restate/vm.py:306);0x7f (restate/_internal.cpython-311-x86_64-linux-gnu.so) 3
{APP};ServerInvocationContext.__init__ (restate/server_context.py:530);Random.seed (random.py:163) 2
{APP};bad_input_is_400 (patterns/wire.py:40);__aexit__ (contextlib.py:217) 1
{APP};sock_recv (socketmodule.c:3567);pthread_cond_timedwait (libc.so.6);0x7f48 (libc.so.6) 7
thread (101);0x7f (granian/_granian.cpython-311-x86_64-linux-gnu.so);syscall (libc.so.6) 40
"""


def test_bench_smoke_run_serves_both_sides_and_reports_ratios(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(out.read_text())
    echo = results["scenarios"]["echo"]
    for side in ("python", "js"):
        assert echo[side]["runs"] == 1
        assert echo[side]["errors"] == 0  # both sides answered every request
        assert echo[side]["rps"] > 0 and echo[side]["cpu_ms_per_request"] > 0
    assert echo["throughput_ratio"] > 0 and echo["cpu_ratio"] > 0
    assert "| echo |" in run.stdout


def test_profile_charges_busy_samples_of_the_event_loop_to_components(tmp_path: Path) -> None:
    raw = tmp_path / "echo.raw"
    raw.write_text(RAW)
    stacks = profile.read_stacks(raw)
    assert set(stacks) == {100, 101}
    result = profile.analyse(stacks, {100: 1.0, 101: 0.5}, {100: 1.6, 101: 0.7}, main=100, requests=100)
    # 6 busy samples; waits (epoll, the GIL's condition variable) are left out.
    assert result["event_loop_samples"] == {"busy": 6, "waiting": 57}
    assert result["event_loop_share"] == {
        "SDK core (Rust VM)": 0.5,
        "SDK Python glue": 0.333,  # random.py is charged to the SDK frame that called it
        "our code (patterns, bench handlers)": 0.167,  # contextlib, to bad_input_is_400
    }
    assert result["event_loop_thread_ms_per_request"] == 6.0  # 0.6 s of CPU over 100 requests
    assert result["granian_runtime_threads_ms_per_request"] == 2.0
    svg = profile.flamegraph_svg(profile.trimmed(result["busy_stacks"]), "echo")
    assert svg.startswith("<svg") and "VMWrapper.sys_input" in svg and "_run_module_as_main" not in svg
