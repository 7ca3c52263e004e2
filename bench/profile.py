"""Where the Python side's CPU goes under the bench load (`python -m bench --profile`).

py-spy samples the granian worker (`--native`: Rust and C frames too) while wrk drives one scenario;
/proc gives each thread's CPU time over the same seconds. Every busy sample of the event-loop thread is
charged to the deepest frame that belongs to a known component (SDK core, SDK glue, granian, asyncio,
pydantic, logging, JSON, our code); frames of neither kind (contextlib, random, uuid, libc) count for the
component that called them. Samples whose leaf is a wait (epoll, futex, a condition variable: the GIL) are
not CPU and are left out. The other threads are granian's Rust runtime (HTTP/2, waking the event loop).

Per scenario this writes `bench/flame-<scenario>.svg` (a flame graph of the busy samples, drawn here from
py-spy's collapsed stacks, so the figures and the picture come from one recording).
"""

from __future__ import annotations

import html
import os
import re
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from patterns import REPO_ROOT

CLK_TCK = os.sysconf("SC_CLK_TCK")
PY_SPY = Path(os.environ.get("PY_SPY", REPO_ROOT / ".venv" / "bin" / "py-spy"))

Stack = tuple[str, ...]

# Leaves that wait instead of running: the event loop's epoll, tokio parking on a futex, the GIL's condvar.
IDLE_LEAVES = {
    "epoll_wait",
    "epoll_pwait",
    "syscall",
    "pthread_cond_timedwait",
    "pthread_cond_wait",
    "nanosleep",
    "sched_yield",
}
# uvloop's frames are C (Cython and libuv): named by function and C file only.
_UVLOOP = re.compile(r"^(uv_|uv__|Loop_|Handle_|TimerHandle_|UVHandle_|__pyx_|loop_cb_|run_forever|run_until_complete)")

_OUR_FOLDERS = {p.name for p in REPO_ROOT.iterdir() if (p / "__init__.py").exists() and p.name != "queue"}


def _ours(frame: str) -> bool:
    match = re.search(r"\((\w+)/", frame)
    return match is not None and match[1] in _OUR_FOLDERS


EVENT_LOOP = "event loop (asyncio or uvloop)"

# Ordered: the first that claims a frame names its component.
COMPONENTS: list[tuple[str, Callable[[str], bool]]] = [
    ("SDK core (Rust VM)", lambda f: "restate/_internal" in f),
    ("garbage collector", lambda f: f.startswith("gc_collect")),
    ("pydantic", lambda f: "(pydantic" in f),
    ("logging", lambda f: "(logging/" in f or "(restate/logging.py" in f),
    ("JSON (stdlib)", lambda f: "(json/" in f),
    ("SDK Python glue", lambda f: "(restate/" in f),
    ("granian ASGI bridge", lambda f: "granian/" in f),
    (EVENT_LOOP, lambda f: any(m in f for m in ("(asyncio/", "_asynciomodule", "selectors.py", "select"))),
    (EVENT_LOOP, lambda f: bool(_UVLOOP.match(f)) and bool(re.search(r"\.[ch]:\d+\)$|\.[ch]\)$", f))),
    ("our code (patterns, bench handlers)", _ours),
]
OTHER = "other"


def waiting(stack: Stack) -> bool:
    """The deepest named frame (libc's are often bare addresses) is a wait."""
    for frame in reversed(stack):
        if not frame.startswith("0x"):
            return frame.split(" (")[0] in IDLE_LEAVES
    return True


def component(stack: Stack) -> str:
    for frame in reversed(stack):
        for name, claims in COMPONENTS:
            if claims(frame):
                return name
    return OTHER


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of `pid`."""
    result: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended
            continue
        result[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return result


def record(pid: int, seconds: float, out: Path, rate: int = 100) -> subprocess.Popen[bytes]:
    """Start py-spy on `pid` (raw collapsed stacks, one root frame per thread); wait() on the result."""
    return subprocess.Popen(
        [str(PY_SPY), "record", "--native", "--threads", "--format", "raw", "--rate", str(rate)]
        + ["--duration", str(max(1, round(seconds))), "--pid", str(pid), "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def read_stacks(path: Path) -> dict[int, Counter[Stack]]:
    """py-spy's raw output, per thread id, with line numbers dropped (one box per function)."""
    threads: dict[int, Counter[Stack]] = {}
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        head, *rest = frames.split(";")
        match = re.match(r"thread \((?:0x)?(\w+)\)", head)
        if not match or not count.isdigit():
            continue
        tid = int(match[1], 16) if head.startswith("thread (0x") else int(match[1])
        stack = tuple(re.sub(r":\d+\)$", ")", frame) for frame in rest)
        threads.setdefault(tid, Counter())[stack] += int(count)
    return threads


def trim(stack: Stack) -> Stack:
    """Drop the process bootstrap (runpy, `python -m`, granian's worker spawn): start below the frame
    that spawned the worker, at the event loop."""
    for index in range(len(stack) - 1, -1, -1):
        if stack[index].startswith("MPServer._spawn_"):
            return stack[index + 1 :]
    return stack


def trimmed(stacks: Counter[Stack]) -> Counter[Stack]:
    result: Counter[Stack] = Counter()
    for stack, count in stacks.items():
        result[trim(stack)] += count
    return result


def analyse(
    stacks: dict[int, Counter[Stack]],
    cpu_before: dict[int, float],
    cpu_after: dict[int, float],
    main: int,
    requests: float,
) -> dict[str, Any]:
    """CPU ms per request by component: the event-loop thread's CPU split by its busy samples, plus the
    other threads' CPU (granian's Rust runtime) from /proc."""
    main_stacks = stacks.get(main, Counter())
    busy = Counter({s: n for s, n in main_stacks.items() if not waiting(s)})
    by_component: Counter[str] = Counter()
    for stack, count in busy.items():
        by_component[component(stack)] += count
    total_busy = sum(busy.values()) or 1
    cpu = {tid: cpu_after[tid] - cpu_before.get(tid, 0.0) for tid in cpu_after}
    main_ms = cpu.get(main, 0.0) * 1000 / max(requests, 1)
    others_ms = sum(v for tid, v in cpu.items() if tid != main) * 1000 / max(requests, 1)
    shares = {name: count / total_busy for name, count in by_component.most_common()}
    return {
        "requests": requests,
        "cpu_ms_per_request": round(main_ms + others_ms, 3),
        "event_loop_thread_ms_per_request": round(main_ms, 3),
        "granian_runtime_threads_ms_per_request": round(others_ms, 3),
        "event_loop_samples": {"busy": total_busy, "waiting": sum(main_stacks.values()) - sum(busy.values())},
        "event_loop_ms_per_request": {name: round(share * main_ms, 3) for name, share in shares.items()},
        "event_loop_share": {name: round(share, 3) for name, share in shares.items()},
        "busy_stacks": busy,
    }


# ---------------------------------------------------------------------------------------------------------
# A flame graph in SVG from collapsed stacks (root at the bottom; width proportional to samples).

_COLOURS = {
    "SDK core (Rust VM)": "#e6550d",
    "SDK Python glue": "#fd8d3c",
    "granian ASGI bridge": "#31a354",
    EVENT_LOOP: "#74c476",
    "pydantic": "#6baed6",
    "JSON (stdlib)": "#9ecae1",
    "logging": "#9e9ac8",
    "our code (patterns, bench handlers)": "#de2d26",
    "garbage collector": "#969696",
    OTHER: "#d9d9d9",
}


def flamegraph_svg(stacks: Counter[Stack], title: str, width: int = 1200, row: int = 16) -> str:
    tree: dict[str, object] = {}
    for stack, count in stacks.items():
        node = tree
        for frame in stack:
            child = node.setdefault(frame, {"#": 0})
            assert isinstance(child, dict)
            child["#"] += count
            node = child
    total = sum(stacks.values()) or 1
    depth = max((len(s) for s in stacks), default=0)
    height = (depth + 3) * row
    boxes: list[str] = []

    def draw(node: dict[str, object], path: Stack, x: float, level: int) -> None:
        for frame, child in sorted((k, v) for k, v in node.items() if k != "#"):
            assert isinstance(child, dict)
            count = int(child["#"])
            w = width * count / total
            if w >= 0.3:
                y = height - (level + 2) * row
                colour = _COLOURS[component((*path, frame))]
                label = html.escape(frame)
                text = (
                    label if len(frame) * 6.5 < w - 4 else html.escape(frame[: max(int((w - 4) / 6.5) - 2, 0)] + "..")
                )
                boxes.append(
                    f"<g><title>{label} ({count} samples, {100 * count / total:.1f}%)</title>"
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 1}" fill="{colour}"/>'
                    + (f'<text x="{x + 2:.1f}" y="{y + row - 4}">{text}</text>' if w > 20 else "")
                    + "</g>"
                )
                draw(child, (*path, frame), x, level + 1)
            x += w

    draw(tree, (), 0.0, 0)
    legend = " ".join(
        f'<tspan fill="{colour}">&#9632;</tspan> {html.escape(name)} ' for name, colour in _COLOURS.items()
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + row}" '
        f'font-family="monospace" font-size="11">'
        f'<text x="4" y="{row - 3}" font-size="13">{html.escape(title)}</text>'
        f'<text x="4" y="{2 * row - 3}">{legend}</text>' + "".join(boxes) + "</svg>\n"
    )
