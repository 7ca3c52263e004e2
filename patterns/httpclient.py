"""One HTTP client per process for the toolkit's and the tests' plain-HTTP calls (admin API, ingress, health
checks). Every new httpx client loads the CA bundle for TLS, about 50 ms of CPU: `httpx.get(...)` in a loop
that polls every 50 ms keeps a core busy. Use `http.get(...)` / `http.post(...)` instead.

The client is made on first use: most processes that import the toolkit (a pattern's service) never call."""

import threading
from typing import Any, cast

import httpx


class _OnFirstUse:
    def __init__(self) -> None:
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._client is None:
                # Thread-safe; no connection limit (tests send hundreds of requests at once from threads).
                limits = httpx.Limits(max_connections=None, max_keepalive_connections=32)
                self._client = httpx.Client(timeout=10.0, limits=limits)
        return getattr(self._client, name)


http = cast(httpx.Client, _OnFirstUse())
