"""One HTTP client per process for the toolkit's and the tests' plain-HTTP calls (admin API, ingress, health
checks). Every new httpx client loads the CA bundle for TLS, about 50 ms of CPU: `httpx.get(...)` in a loop
that polls every 50 ms keeps a core busy. Use `http.get(...)` / `http.post(...)` instead."""

import httpx

# Thread-safe; no connection limit (tests send hundreds of requests at once from threads).
http = httpx.Client(timeout=10.0, limits=httpx.Limits(max_connections=None, max_keepalive_connections=32))
