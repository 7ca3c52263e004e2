"""Check a cron job's target with Restate's admin API before the job exists.

A job sends its task with a one-way call by name. Restate refuses a call to a handler it does not know
(or a key for a plain service) only when the run happens, and retries that run, blocking the job. So
`create` looks the target up first: an unknown or internal handler, or a missing or needless key, gets a
400 at once. Internal handlers stay internal: the public `create` cannot be used to reach them.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from restate import TerminalError

from patterns.settings import settings


async def check_target(service: str, method: str, key: str | None) -> None:
    """Raise a TerminalError (400) unless `service/method` is a public handler that fits `key`."""
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{settings().admin_url}/services/{quote(service, safe='')}")
    if response.status_code == 404:
        raise TerminalError(f"Unknown service: {service}", status_code=400)
    response.raise_for_status()  # (anything else: retried)
    description = response.json()
    handler = next((h for h in description["handlers"] if h["name"] == method), None)
    if handler is None:
        raise TerminalError(f"Unknown handler: {service}/{method}", status_code=400)
    if not handler.get("public", True):
        raise TerminalError(f"{service}/{method} is internal: a job can only run public handlers", status_code=400)
    keyed = description["ty"] != "Service"  # virtual objects and workflows
    if keyed and not key:
        raise TerminalError(f"{service} is a {description['ty']}: the job needs a key", status_code=400)
    if not keyed and key is not None:
        raise TerminalError(f"{service} is a service: the job must not have a key", status_code=400)
