"""Serve an ASGI app (a Restate endpoint or a FastAPI front end) with granian or hypercorn.

`serve("sagas.app:app")` is what every `python -m <pattern>` runs: the app is named by an import string
(module:attribute), as granian imports it again in its worker. Both servers accept HTTP/1.1 and HTTP/2
cleartext with prior knowledge on the same port, which is how restate-server talks to a deployment.

- granian (default; a Rust HTTP server) runs the app in one worker process. It spends a third less CPU
  per request than hypercorn and has no HTTP/2 latency tail (README, Performance).
- hypercorn (`PATTERNS_SERVER=hypercorn`, pure Python) runs the app in this process; the tests also
  use it to serve apps on a thread of the test process (`BackgroundServer`).

Shutdown, in both:
- restate-sdk 1.3 installs its own SIGTERM handler on the event loop the first time the app is called,
  which replaces the server's. The server's stop is registered in the SDK's own hook registry instead
  (`restate.server.install_shutdown_hook`), so both run. In granian's worker, whose SIGTERM handler we
  cannot reach, the hook hands the stop on as SIGINT, which granian handles the same way and the SDK
  leaves alone.
- Invocations waiting on a timer, a promise or a call keep their HTTP/2 stream open, and the server
  would wait for them. On stop, every request still reading its input is told that the input ended, as
  restate-server itself does after its inactivity timeout: the SDK suspends those invocations, and
  restate-server resumes them from their journal on the next start.

Once the app is imported, the garbage collector is set for a long-running service (`settle_gc`).

Signed requests: with PATTERNS_IDENTITY_KEYS set, a Restate endpoint answers only requests signed by
restate-server (`patterns.signing`), 401 to anything else; FastAPI front ends are served as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import os
import signal
import threading
from typing import Any

import hypercorn.asyncio
from hypercorn.config import Config
from restate.server import install_shutdown_hook

from patterns.process import die_with_parent, wait_http_ok
from patterns.settings import settings
from patterns.signing import verifying

LOG_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] - %(message)s"
END_OF_INPUT = {"type": "http.request", "body": b"", "more_body": False}


def configure_logging() -> None:
    """The log format of the Restate Python examples (entry points only, never at import time)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per outgoing request is too much
    # What LOG_FORMAT never prints is not collected either (the Logging HOWTO's "Optimization"): the caller's
    # file and line (a stack walk per record), the thread and multiprocessing names: 1.8 % of the instructions
    # of a saga request.
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False


def load(target: str) -> Any:
    """The object an import string names: `"sagas.app:app"` -> `sagas.app.app`."""
    module, _, attribute = target.partition(":")
    if not module or not attribute:
        raise ValueError(f"serve needs module:attribute, e.g. 'sagas.app:app', not {target!r}")
    return getattr(importlib.import_module(module), attribute)


# Python's collector goes through the young objects every 700 allocations (its default). In a service, the
# objects of every invocation in flight are there at each such collection, and everything the app imported
# lives as long as the process. A young collection every 10,000 allocations goes through the former 14 times
# less often, and gc.freeze() leaves the latter out of every collection; cycles are still collected
# (bench/README.md: 5.5 % fewer instructions per fan-out request, 1.2 % per saga).
GC_YOUNG_THRESHOLD = 10_000


def settle_gc() -> None:
    """The collector's settings for a long-running service: call once the app is imported, where it is served."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def without_lifespan(app: Any) -> Any:
    """Answer ASGI lifespan events for a Restate endpoint (the SDK does not implement them, and the servers
    would log a warning on every start)."""
    if getattr(app, "__module__", None) != "restate.server":
        return app  # e.g. a FastAPI front end, which has its own lifespan

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return wrapped


def served_app(app: Any) -> Any:
    """What the servers run for `app`: a Restate endpoint answers lifespan events and, when PATTERNS_IDENTITY_KEYS
    is set, only signed requests; any other app (a FastAPI front end) as it is."""
    if getattr(app, "__module__", None) != "restate.server":
        return app
    return verifying(without_lifespan(app), settings().identity_keys)


class SuspendOnStop:
    """ASGI middleware: on `stop()`, a request that waits for more input gets the end of its input instead
    (see the module docstring): the Restate SDK suspends the invocation, and its stream ends.

    A waiting `receive()` is interrupted by cancelling the task that waits in it (in the SDK, the task that
    reads the request), and that one cancellation is turned into the end of the input. Nothing is added
    to a request's path until then."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.stopping = False
        self._waiting: set[asyncio.Task[Any]] = set()  # tasks in receive()
        self._interrupted: set[asyncio.Task[Any]] = set()

    def stop(self) -> None:
        """Call on the serving loop."""
        self.stopping = True
        for task in self._waiting - self._interrupted:
            self._interrupted.add(task)
            task.cancel()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.stopping:
            return await self.app(scope, receive, send)
        ended = False

        async def receive_until_stop() -> Any:
            nonlocal ended
            task = asyncio.current_task()
            if ended or task is None:
                return await receive()
            self._waiting.add(task)
            try:
                return await receive()
            except asyncio.CancelledError:
                if task not in self._interrupted:
                    raise
                self._interrupted.discard(task)
                if task.uncancel() > 0:  # cancelled by someone else too
                    raise
                ended = True
                return END_OF_INPUT
            finally:
                self._waiting.discard(task)

        await self.app(scope, receive_until_stop, send)


def hypercorn_config(host: str, port: int) -> Config:
    config = Config()
    # Log through the standard logging tree (one format, no duplicate lines).
    config.errorlog = logging.getLogger("hypercorn.error")
    config.bind = [f"{host}:{port}"]
    # restate-server keeps one long-lived HTTP/2 connection per deployment and multiplexes invocations.
    config.h2_max_concurrent_streams = 2**31 - 1
    config.keep_alive_timeout = 3600
    config.graceful_timeout = 5
    config.accesslog = None
    return config


async def serve_async(app: Any, host: str, port: int, stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set (or SIGINT/SIGTERM arrives, when running in the main thread)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Outside the main thread signals cannot be handled: the caller stops us through `stop`.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            install_shutdown_hook(loop, stop.set, signum)
    served = SuspendOnStop(served_app(app))

    async def shutdown_trigger() -> None:
        await stop.wait()
        served.stop()

    await hypercorn.asyncio.serve(served, hypercorn_config(host, port), shutdown_trigger=shutdown_trigger, mode="asgi")


def serve(target: str, *, host: str | None = None, port: int | None = None) -> None:
    """Serve the ASGI app `target` (module:attribute) on SERVICE_HOST:SERVICE_PORT (default 127.0.0.1:9080)
    until Ctrl-C or SIGTERM, with granian, or with hypercorn when PATTERNS_SERVER=hypercorn."""
    configure_logging()
    current = settings()
    host = host or current.service_host
    port = port or current.service_port
    server = os.environ.get("PATTERNS_SERVER", "granian")
    if server == "granian":
        logging.getLogger("patterns").info("Running on http://%s:%d (granian)", host, port)
        serve_granian(target, host, port)
    elif server == "hypercorn":
        app = load(target)
        settle_gc()
        asyncio.run(serve_async(app, host, port))
    else:
        raise SystemExit(f"PATTERNS_SERVER must be hypercorn or granian, not {server!r}")


# granian's tuning for `python -m <pattern>`, each measured against its alternatives (README, Performance):
# uvloop runs a request in 16-18 % fewer instructions than the standard library's event loop.
GRANIAN_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
}


def serve_granian(target: str, host: str, port: int) -> None:
    """granian: a Rust HTTP/1.1 + HTTP/2 server, running the app in one worker process."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels

    Granian(
        target,
        address=host,
        port=port,
        interface=Interfaces.ASGI,  # with lifespan, for the front ends (granian_worker_app answers the SDK's)
        http=HTTPModes.auto,  # HTTP/1.1, and HTTP/2 with prior knowledge
        websockets=False,
        log_level=LogLevels.warning,
        # No kill timer: granian's races with its own watcher thread, which reaps the worker the moment it
        # exits; under load the timer then finds the worker "alive" at once and logs "Killing worker-1 after
        # it refused to gracefully stop" for a worker that did stop. A worker that would hang is still
        # bounded: whoever stops this process SIGKILLs it after a grace time, and the worker follows
        # (die_with_parent).
        workers_kill_timeout=None,
        **GRANIAN_OPTIONS,
    ).serve(target_loader=granian_worker_app)  # called with `target`, in the worker


def granian_worker_app(target: str) -> Any:
    """Runs in granian's worker process: the app, made to follow its parent in life and in shutdown."""
    die_with_parent(signal.SIGKILL)  # a SIGKILL of `python -m <pattern>` takes the worker along
    served = SuspendOnStop(served_app(load(target)))
    settle_gc()
    hooked = False

    def stop() -> None:  # on SIGTERM: end the input of waiting requests, and stop granian through SIGINT
        served.stop()
        signal.raise_signal(signal.SIGINT)

    async def worker_app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal hooked
        if not hooked:  # the first call, on the worker's event loop: before the SDK hooks SIGTERM
            hooked = True
            install_shutdown_hook(asyncio.get_running_loop(), stop, signal.SIGTERM)
        await served(scope, receive, send)

    return worker_app


class BackgroundServer:
    """Serve an ASGI app on a daemon thread of this process (tests, front ends next to services)."""

    def __init__(self, app: Any, host: str, port: int, health_path: str = "/health") -> None:
        self.app, self.host, self.port, self.health_path = app, host, port, health_path
        self.url = f"http://{host}:{port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            await serve_async(self.app, self.host, self.port, self._stop)

        def run() -> None:
            try:
                asyncio.run(main())
            except BaseException as error:  # reported by start()/stop(), never swallowed
                self._error = error
                self._ready.set()

        self._thread = threading.Thread(target=run, name=f"asgi:{self.port}", daemon=True)
        self._thread.start()
        self._ready.wait(timeout)
        if self._error:
            raise RuntimeError(f"server on {self.url} failed to start") from self._error
        wait_http_ok(self.url + self.health_path, timeout)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop serving: hypercorn waits up to its graceful_timeout (5 s) for open requests, then cancels them.

        A handler of restate-sdk 1.3 cancelled mid-run swallows the cancellation (`ServerInvocationContext.enter`)
        and may then wait for good on a stream that no longer moves: seen on a saturated machine, with a
        cluster's invocations still running at the end of a test module. The serving thread then cannot end;
        it is a daemon thread, left to end with the process, and said in the log."""
        if self._loop and self._stop and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logging.getLogger("patterns").warning(
                    "server on %s did not stop within %.0fs: left to end with the process", self.url, timeout
                )

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
