"""The Markdown tables `python -m bench` prints (the README's come from them)."""

from __future__ import annotations

from typing import Any


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _header(*names: str) -> list[str]:
    return [_row(*names), _row(*("---" for _ in names))]


def tables(results: dict[str, Any]) -> str:
    load = results["load"]
    start, end = load.get("loadavg_at_start", [0])[0], load.get("loadavg_at_end", [0])[0]
    lines = [
        f"{load['connections']} connections, {load['seconds']:g} s x {load['rounds']} alternations per side, "
        f"{load['generator']} (ceiling {load.get('generator_ceiling_rps', '?')} req/s on the health endpoint), "
        f"Python registered as {load['python_registration']}; medians. Load average {start:.1f} at the start, "
        f"{end:.1f} at the end; {load.get('wall_seconds', '?')} s in all.",
        "",
        *_header(
            "scenario",
            "Python served by",
            "Python req/s",
            "JS req/s",
            "throughput ratio",
            "Python p50 ms",
            "JS p50 ms",
            "p50 ratio",
            "Python p99 ms",
            "JS p99 ms",
            "Python CPU ms/req",
            "JS CPU ms/req",
            "CPU ratio",
        ),
    ]
    candidates: list[str] = []
    ceilings: list[str] = []
    for name, s in results["scenarios"].items():
        js = s.get("js")
        for key, py in s.items():
            if key.startswith("python_") and js:
                lines.append(
                    _row(
                        name,
                        key.removeprefix("python_"),
                        f"{py['rps']:.0f}",
                        f"{js['rps']:.0f}",
                        py["throughput_ratio"],
                        f"{py['p50_ms']:.1f}",
                        f"{js['p50_ms']:.1f}",
                        py["p50_ratio"],
                        f"{py['p99_ms']:.1f}",
                        f"{js['p99_ms']:.1f}",
                        f"{py['cpu_ms_per_request']:.2f}",
                        f"{js['cpu_ms_per_request']:.2f}",
                        py["cpu_ratio"],
                    )
                )
            if key.startswith("candidate_"):
                vs = py.get("vs_default", {})
                candidates.append(
                    _row(
                        name,
                        key.removeprefix("candidate_"),
                        f"{py['rps']:.0f}",
                        vs.get("throughput", ""),
                        f"{py['cpu_ms_per_request']:.3f}",
                        vs.get("cpu", ""),
                        f"{py['context_switches_per_request']:.1f}",
                        vs.get("context_switches", ""),
                        f"{py['loadavg']:.1f}",
                    )
                )
        if js and "python" in s:
            py = s["python"]
            ceilings.append(
                _row(
                    name,
                    f"{js['server_cpu_ms_per_request']:.2f}",
                    f"{js['server_ceiling_rps']:.0f}",
                    f"{py['share_of_server_ceiling']:.2f}",
                    f"{js['share_of_server_ceiling']:.2f}",
                    f"{py['client_cpu_ms_per_request']:.2f}",
                    py["bound"],
                    js["bound"],
                )
            )
    if ceilings:
        lines += [
            "",
            "restate-server's own ceiling (the machine's cores over its CPU per request) and how close each side got:",
            "",
            *_header(
                "scenario",
                "server CPU ms/req",
                "server ceiling req/s",
                "Python share",
                "JS share",
                "wrk CPU ms/req",
                "Python bound by",
                "JS bound by",
            ),
        ]
        lines += ceilings
    if candidates:
        lines += [
            "",
            "Candidates (granian serving with one change) against the default, same alternation:",
            "",
            *_header(
                "scenario",
                "candidate",
                "req/s",
                "throughput vs default",
                "CPU ms/req",
                "CPU vs default",
                "context switches/req",
                "switches vs default",
                "load",
            ),
        ]
        lines += candidates
    scaling = results.get("scaling")
    if scaling:
        lines += [
            "",
            "Echo throughput against connections:",
            "",
            *_header(
                "connections",
                "Python req/s",
                "JS req/s",
                "ratio",
                "Python p50 ms",
                "JS p50 ms",
                "Python CPU ms/req",
                "JS CPU ms/req",
                "server CPU ms/req",
                "Python bound by",
                "JS bound by",
            ),
        ]
        for connections, row in scaling["echo_connections"].items():
            py, js = row["python"], row["js"]
            lines.append(
                _row(
                    connections,
                    f"{py['rps']:.0f}",
                    f"{js['rps']:.0f}",
                    row["throughput_ratio"],
                    f"{py['p50_ms']:.1f}",
                    f"{js['p50_ms']:.1f}",
                    f"{py['cpu_ms_per_request']:.2f}",
                    f"{js['cpu_ms_per_request']:.2f}",
                    f"{py['server_cpu_ms_per_request']:.2f}",
                    py["bound"],
                    js["bound"],
                )
            )
        lines += [
            "",
            "One fan-out (worker/run) against its number of subtasks, one request at a time:",
            "",
            *_header(
                "subtasks",
                "Python ms",
                "JS ms",
                "ratio",
                "Python subtasks/s",
                "JS subtasks/s",
                "Python CPU ms/subtask",
                "JS CPU ms/subtask",
                "server CPU ms/subtask",
            ),
        ]
        for n, row in scaling["fan_out_latency"].items():
            py, js = row["python"], row["js"]
            lines.append(
                _row(
                    n,
                    f"{py['latency_ms']:.0f}",
                    f"{js['latency_ms']:.0f}",
                    row["latency_ratio"],
                    py["subtasks_per_s"],
                    js["subtasks_per_s"],
                    f"{py['cpu_ms_per_subtask']:.3f}",
                    f"{js['cpu_ms_per_subtask']:.3f}",
                    f"{py['server_cpu_ms_per_subtask']:.3f}",
                )
            )
    return "\n".join(lines)


def profile_tables(results: dict[str, Any]) -> str:
    return "\n\n".join(f"{side}:\n\n{profile_table(by_scenario)}" for side, by_scenario in results["profiles"].items())


def profile_table(scenarios: dict[str, Any]) -> str:
    """CPU ms per request of one Python side by component, one column per scenario."""
    components: list[str] = []
    for s in scenarios.values():
        components += [c for c in s["event_loop_ms_per_request"] if c not in components]
    lines = _header("CPU ms per request", *scenarios)
    lines.append(_row("**all threads** (/proc)", *(f"**{s['cpu_ms_per_request']:.3f}**" for s in scenarios.values())))
    lines.append(
        _row(
            "granian's Rust runtime threads",
            *(f"{s['granian_runtime_threads_ms_per_request']:.3f}" for s in scenarios.values()),
        )
    )
    lines.append(
        _row("event-loop thread", *(f"{s['event_loop_thread_ms_per_request']:.3f}" for s in scenarios.values()))
    )
    for name in components:
        cells = []
        for s in scenarios.values():
            ms, share = s["event_loop_ms_per_request"].get(name, 0.0), s["event_loop_share"].get(name, 0.0)
            cells.append(f"{ms:.3f} ({100 * share:.0f} %)")
        lines.append(_row(f"  {name}", *cells))
    lines.append(_row("busy samples", *(s["event_loop_samples"]["busy"] for s in scenarios.values())))
    return "\n".join(lines)
