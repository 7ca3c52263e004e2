"""Changes measured against the default serving (`python -m bench --candidates NAME ...`).

Each candidate is applied to the Python side alone (BENCH_CANDIDATE, read by bench.serve_python), and runs
in the same alternation as the default and the JavaScript side, so the same noise hits all. Serving
candidates override `patterns.serving.GRANIAN_OPTIONS` before granian starts; the others change the
benchmark's app when the worker imports `bench.candidate_app:app`. What was adopted and what was dropped,
with the figures: bench/README.md.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import restate
from granian.http import HTTP2Settings
from restate import Context, TerminalError

from parallelizework import fan_out_worker
from patterns import chaos, serving
from patterns.wire import bad_input_is_400, raise_400_for_input_error, refuse_bad_input


class granian:  # noqa: N801 - reads as the option it sets
    """A serving candidate: options for granian."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def configure(self) -> None:
        serving.GRANIAN_OPTIONS.update(self.options)

    def __call__(self, app: Any) -> None:
        pass  # nothing to change in the app


class in_serving_process(granian):  # noqa: N801
    """A serving candidate: a change to patterns.serving, made before granian forks its worker."""

    def __init__(self, change: Callable[[], None]) -> None:
        super().__init__()
        self.change = change

    def configure(self) -> None:
        self.change()


class PassThrough:
    """patterns.serving.SuspendOnStop without its work: what that middleware costs per request."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def stop(self) -> None:
        pass

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def without_suspend_on_stop() -> None:
    serving.SuspendOnStop = PassThrough  # type: ignore[assignment,misc]


@asynccontextmanager
async def bad_input_is_400_generator() -> AsyncIterator[None]:
    """patterns.wire.bad_input_is_400 as an @asynccontextmanager generator: the same checks, the same 400."""
    refuse_bad_input()
    try:
        yield
    except TerminalError as error:
        raise_400_for_input_error(error)
        raise


def generator_bad_input(app: Any) -> None:
    for service in endpoint(app).services.values():
        for handler in service.handlers.values():
            managers = handler.context_managers or []
            handler.context_managers = [bad_input_is_400_generator if m is bad_input_is_400 else m for m in managers]


async def run_with_gather(ctx: Context, task: fan_out_worker.Task) -> fan_out_worker.Result:
    """parallelizework's worker/run as it was: restate.gather over the calls, then their results."""
    parts = await ctx.run_typed("split task", fan_out_worker.split, restate.RunOptions(type_hint=list[str]), task=task)
    calls = [ctx.service_call(fan_out_worker.run_subtask, arg=fan_out_worker.SubTask(description=p)) for p in parts]
    await restate.gather(*calls)
    results = [await call for call in calls]
    joined = ",".join(result.description for result in results)
    fan_out_worker.logger.info("Aggregated result: %s", joined)
    return fan_out_worker.Result(description=joined)


def gather(app: Any) -> None:
    endpoint(app).services["worker"].handlers["run"].fn = run_with_gather


def without_context_managers(app: Any) -> None:
    """Every handler without its invocation context managers (`bad_input_is_400`)."""
    for service in endpoint(app).services.values():
        for handler in service.handlers.values():
            handler.context_managers = None


def quiet_handlers(app: Any) -> None:
    """The handlers' per-request INFO lines off (the patterns' loggers at WARNING)."""
    for name in ("durablerpc", "sagas", "parallelizework", "statemachinepayments", "bench"):
        logging.getLogger(name).setLevel(logging.WARNING)


def full_log_records(app: Any) -> None:
    """Log records with what LOG_FORMAT never prints, as before: the caller's file and line (a stack walk per
    record), the thread and the multiprocessing process names (patterns.serving.configure_logging)."""
    logging._srcfile = os.path.normcase(logging.addLevelName.__code__.co_filename)
    logging.logThreads = True
    logging.logMultiprocessing = True


def parse_each_use(app: Any) -> None:
    """patterns.chaos as before: a knob's environment name worked out and its value parsed at every use."""

    def delay(point: str, default: timedelta) -> timedelta:
        raw = os.environ.get("PATTERNS_DURATION_" + re.sub(r"[^0-9A-Za-z]", "_", point).upper(), "").strip()
        return chaos.parse_duration(raw) if raw else chaos.scaled(default)

    chaos.delay = delay


def python_gc(app: Any) -> None:
    """Python's collector as it comes (before): no gc.freeze(), a young collection every 700 allocations."""
    serving.settle_gc = lambda: None


def gc_freeze_only(app: Any) -> None:
    """gc.freeze() once the app is imported, Python's young threshold of 700 kept."""
    serving.settle_gc = gc.freeze


def gc_young_50k(app: Any) -> None:
    """gc.freeze() and a young collection every 50,000 allocations (instead of 10,000)."""

    def settle() -> None:
        gc.freeze()
        gc.set_threshold(50_000, *gc.get_threshold()[1:])

    serving.settle_gc = settle


def one_core(app: Any) -> None:
    """The worker and the threads granian starts after the app is loaded (its Rust runtime, the thread that
    wakes the event loop) on one CPU: every hand-over between them stays on that core."""
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})


def long_switch_interval(app: Any) -> None:
    """A thread waiting for the GIL asks the running one to drop it after 50 ms instead of 5 ms."""
    sys.setswitchinterval(0.05)


def endpoint(app: Any) -> Any:
    """The restate Endpoint an app built by `restate.app` serves (a closure cell of the ASGI function)."""
    for cell in app.__closure__ or ():
        services = getattr(cell.cell_contents, "services", None)
        if isinstance(services, dict):
            return cell.cell_contents
    raise ValueError("not a restate.app")


CANDIDATES: dict[str, tuple[str, Callable[[Any], None]]] = {
    "asyncio": ("granian loop=asyncio (the standard library's event loop)", granian(loop="asyncio")),
    "uvloop": ("granian loop=uvloop (libuv event loop)", granian(loop="uvloop")),
    "rloop": ("granian loop=rloop (Rust event loop)", granian(loop="rloop")),
    "rust-tasks": ("granian task_impl=rust (Rust task instead of asyncio.Task)", granian(task_impl="rust")),
    "st-runtime": ("granian runtime_mode=st (single-threaded Rust runtime)", granian(runtime_mode="st")),
    "mt-runtime": ("granian runtime_mode=mt (multi-threaded Rust runtime)", granian(runtime_mode="mt")),
    "runtime-threads-2": ("granian runtime_threads=2", granian(runtime_threads=2)),
    "h2-streams": (
        "granian HTTP/2 max_concurrent_streams 2^31-1 (default 200), 4 MiB windows",
        granian(
            http2_settings=HTTP2Settings(
                max_concurrent_streams=2**31 - 1,
                initial_connection_window_size=4 * 1024 * 1024,
                initial_stream_window_size=4 * 1024 * 1024,
            )
        ),
    ),
    "no-suspend-on-stop": ("serving without SuspendOnStop (its cost)", in_serving_process(without_suspend_on_stop)),
    "no-bad-input-400": ("handlers without bad_input_is_400", without_context_managers),
    "generator-bad-input": ("bad_input_is_400 as an @asynccontextmanager generator (before)", generator_bad_input),
    "gather": ("parallelizework's worker/run with restate.gather (before)", gather),
    "quiet-logs": ("per-request INFO lines off (loggers at WARNING)", quiet_handlers),
    "full-log-records": ("log records with caller lookup, thread and process names", full_log_records),
    "parse-each-use": ("patterns.chaos parsing a knob's name and value at every use (before)", parse_each_use),
    "python-gc": ("Python's collector defaults: no gc.freeze(), young threshold 700 (before)", python_gc),
    "gc-freeze": ("gc.freeze() alone, young threshold 700", gc_freeze_only),
    "gc-young-50k": ("gc.freeze() and a young threshold of 50000 (default 10000)", gc_young_50k),
    "one-core": ("the worker's threads on one CPU (sched_setaffinity)", one_core),
    "switch-interval": ("sys.setswitchinterval(0.05) (default 5 ms)", long_switch_interval),
}


# Shorthands: the state before issue 17's changes (bench/README.md, "Before and after").
ALIASES = {"before": "asyncio+full-log-records+generator-bad-input+gather"}


def parts(name: str) -> list[Callable[[Any], None]]:
    """The changes `name` stands for: one candidate, an alias, or several joined by '+'."""
    names = "+".join(ALIASES.get(part, part) for part in name.split("+"))
    return [CANDIDATES[part][1] for part in filter(None, names.split("+"))]


def known(name: str) -> bool:
    return all(part in CANDIDATES or part in ALIASES for part in name.split("+"))


def configure_serving(name: str) -> None:
    """In the serving process, before granian starts: the candidate's granian options."""
    for part in parts(name):
        if isinstance(part, granian):
            part.configure()


def prepared(name: str) -> Any:
    """In the process that runs the handlers: the benchmark's app with the candidate's changes."""
    from bench.services import app

    for part in parts(name):
        part(app)
    return app
