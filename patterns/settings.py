"""Settings read from the environment, with the upstream defaults.

| variable              | default                 | used by                                 |
|-----------------------|-------------------------|-----------------------------------------|
| RESTATE_INGRESS_URL   | http://localhost:8080   | clients and front ends calling Restate  |
| RESTATE_ADMIN_URL     | http://localhost:9070   | registration (the `restate` CLI too)    |
| SERVICE_HOST          | 127.0.0.1               | `python -m <pattern>` (0.0.0.0: reachable from containers) |
| SERVICE_PORT          | 9080                    | `python -m <pattern>`                   |
| API_HOST              | 127.0.0.1               | FastAPI front ends (`python -m <pattern>.api`) |
| API_PORT              | 5000                    | FastAPI front ends                      |
| DATABASE_URL          | postgres://restatedb:restatedb@localhost:5432/exampledb | the database pattern |
| PATTERNS_IDENTITY_KEYS | (none: no check)       | services: signed requests only (`patterns.signing`) |

Values are read on every call, so tests and the dev runner can set them per process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from patterns.signing import KEYS_ENV, parse_keys

DEFAULT_INGRESS_URL = "http://localhost:8080"
DEFAULT_ADMIN_URL = "http://localhost:9070"
DEFAULT_SERVICE_PORT = 9080
DEFAULT_API_PORT = 5000
DEFAULT_DATABASE_URL = "postgres://restatedb:restatedb@localhost:5432/exampledb"


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a port number, got {raw!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"{name} must be between 1 and 65535, got {port}")
    return port


@dataclass(frozen=True)
class Settings:
    ingress_url: str
    admin_url: str
    service_host: str
    service_port: int
    api_host: str
    api_port: int
    database_url: str
    identity_keys: tuple[str, ...]

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            ingress_url=os.environ.get("RESTATE_INGRESS_URL", DEFAULT_INGRESS_URL).rstrip("/"),
            admin_url=os.environ.get("RESTATE_ADMIN_URL", DEFAULT_ADMIN_URL).rstrip("/"),
            service_host=os.environ.get("SERVICE_HOST", "127.0.0.1"),
            service_port=_port("SERVICE_PORT", DEFAULT_SERVICE_PORT),
            api_host=os.environ.get("API_HOST", "127.0.0.1"),
            api_port=_port("API_PORT", DEFAULT_API_PORT),
            database_url=os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
            identity_keys=parse_keys(os.environ.get(KEYS_ENV, "")),
        )


def settings() -> Settings:
    """The settings of this process, read from the environment now."""
    return Settings.from_env()
