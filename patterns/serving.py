"""Serve an ASGI app (a Restate endpoint or a FastAPI front end) with granian or hypercorn.

`serve(app)` is what every `python -m <pattern>` runs. Both servers accept HTTP/1.1 and HTTP/2 cleartext
with prior knowledge on the same port, which is how restate-server talks to a deployment.

- granian (default; a Rust HTTP server) runs the app in one worker process. It spends a third less CPU
  per request than hypercorn and has no HTTP/2 latency tail (README, Performance).
- hypercorn (`PATTERNS_SERVER=hypercorn`, pure Python) runs the app in this process; the tests also
  use it to serve apps on a thread of the test process (`BackgroundServer`).

Shutdown: restate-sdk 1.3 installs its own SIGTERM handler on the event loop the first time the app is
called, which silently replaces the server's. We register the server's shutdown through the SDK's own
hook registry instead (`restate.server.install_shutdown_hook`), so SIGTERM and SIGINT both stop the
server gracefully, whether the SDK has hooked SIGTERM yet or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
from typing import Any

import hypercorn.asyncio
from hypercorn.config import Config
from restate.server import install_shutdown_hook

from patterns.process import die_with_parent, wait_http_ok
from patterns.settings import settings

LOG_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] - %(message)s"


def configure_logging() -> None:
    """The log format of the Restate Python examples (entry points only, never at import time)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per outgoing request is too much


def without_lifespan(app: Any) -> Any:
    """Answer ASGI lifespan events for a Restate endpoint (the SDK does not implement them, and hypercorn
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
    await hypercorn.asyncio.serve(
        without_lifespan(app), hypercorn_config(host, port), shutdown_trigger=stop.wait, mode="asgi"
    )


def serve(app: Any, *, host: str | None = None, port: int | None = None) -> None:
    """Serve `app` on SERVICE_HOST:SERVICE_PORT (default 0.0.0.0:9080) until Ctrl-C or SIGTERM, with
    granian, or with hypercorn when PATTERNS_SERVER=hypercorn."""
    configure_logging()
    current = settings()
    host = host or current.service_host
    port = port or current.service_port
    server = os.environ.get("PATTERNS_SERVER", "granian")
    if server == "granian":
        logging.getLogger("patterns").info("Running on http://%s:%d (granian)", host, port)
        serve_granian(app, host, port)
    elif server == "hypercorn":
        asyncio.run(serve_async(app, host, port))
    else:
        raise SystemExit(f"PATTERNS_SERVER must be hypercorn or granian, not {server!r}")


def import_target(app: Any) -> str:
    """`module:attribute` of an already imported app (granian imports the app again in its worker)."""
    for name, module in list(sys.modules.items()):
        for attribute in ("app", "api"):
            if name != "__main__" and getattr(module, attribute, None) is app:
                return f"{name}:{attribute}"
    raise ValueError("serving with granian needs `app` (or `api`) defined at module level")


def serve_granian(app: Any, host: str, port: int) -> None:
    """granian: a Rust HTTP/1.1 + HTTP/2 server, running the app in one worker process."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels

    restate_endpoint = getattr(app, "__module__", None) == "restate.server"
    os.environ["PATTERNS_GRANIAN_TARGET"] = import_target(app)  # read by granian_worker_app in the worker
    Granian(
        "patterns.serving:granian_worker_app",
        factory=True,
        address=host,
        port=port,
        # The SDK has no lifespan: ASGINL skips it. `auto` accepts HTTP/1.1 and HTTP/2 with prior knowledge.
        interface=Interfaces.ASGINL if restate_endpoint else Interfaces.ASGI,
        http=HTTPModes.auto,
        websockets=False,
        log_level=LogLevels.warning,
        workers_kill_timeout=5,  # a worker that does not stop in time is killed
    ).serve()


def granian_worker_app() -> Any:
    """Runs in granian's worker process: the app, made to follow its parent in life and in shutdown."""
    die_with_parent(signal.SIGKILL)  # a SIGKILL of `python -m <pattern>` takes the worker along
    module, attribute = os.environ["PATTERNS_GRANIAN_TARGET"].split(":")
    app = getattr(importlib.import_module(module), attribute)
    installed = False

    async def worker_app(scope: Any, receive: Any, send: Any) -> None:
        # restate-sdk installs its SIGTERM handler on the first call, replacing granian's (the worker would
        # ignore its stop signal). Register granian's handler in the SDK's hook registry first: both run.
        nonlocal installed
        if not installed:
            installed = True
            loop = asyncio.get_running_loop()
            handle = loop._signal_handlers.get(signal.SIGTERM)  # type: ignore[attr-defined]
            if handle is not None:
                install_shutdown_hook(loop, handle._run, signal.SIGTERM)
        await app(scope, receive, send)

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

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop and self._stop and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"server on {self.url} did not stop within {timeout:.0f}s")

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
