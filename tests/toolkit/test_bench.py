"""A tiny run of the benchmark runner (`python -m bench --smoke`): it serves both sides, drives load, and
writes results. No timing assertions: this machine is too noisy for them (figures in the README)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from patterns import REPO_ROOT


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
