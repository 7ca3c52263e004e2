"""A local Stripe API server for development and tests: localstripe (PyPI, GPL-3.0; a dev dependency only).

    python -m patterns.localstripe     # 127.0.0.1:8420, webhooks -> the patterns' handlers on localhost:8080

localstripe keeps Stripe objects in memory and sends real signed webhooks, so the `stripe` library and
`stripe.Webhook.construct_event` work against it unchanged. Two of its defaults are changed here:
it binds every interface (we bind 127.0.0.1 only), and it writes every change to a hard-coded
`<tmp>/localstripe.pickle` shared by all instances on the machine (we keep the data in memory only).

`LocalStripe` is the launcher used by the dev runner (`NEEDS = ("stripe",)`) and the tests: it starts the
server as a child process, waits until it answers, stops it by PID, and, once the Restate ingress is up,
points the webhooks at the handler each pattern declares (`WEBHOOKS = {"stripe": "payments/processWebhook"}`
in its `__init__.py`). Each start generates a fresh webhook secret; nothing secret is written in code.

Pattern code never imports this module: it reaches Stripe through STRIPE_API_BASE, STRIPE_API_KEY and
STRIPE_WEBHOOK_SECRET (`service_env()`).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from patterns.catalogue import Pattern, load_patterns
from patterns.httpclient import http
from patterns.process import ManagedProcess, http_ok, port_in_use

DEFAULT_PORT = 8420  # localstripe's own default
# "Select all Payment Intent events", as the Stripe dashboard setup in the README does. localstripe
# matches names literally and only ever sends `succeeded` and `payment_failed` of these.
PAYMENT_INTENT_EVENTS = (
    "payment_intent.amount_capturable_updated",
    "payment_intent.canceled",
    "payment_intent.created",
    "payment_intent.partially_funded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.succeeded",
)


def new_api_key() -> str:
    """localstripe accepts any key that starts with `sk_` (and is longer than 5 characters)."""
    return "sk_test_local_" + secrets.token_hex(8)


def new_webhook_secret() -> str:
    return "whsec_local_" + secrets.token_hex(16)


def register_webhook(
    api_base: str, url: str, secret: str, events: tuple[str, ...] = PAYMENT_INTENT_EVENTS, name: str = "restate"
) -> None:
    """Send `events` to `url`, signed with `secret`. Registering the same name again re-points it."""
    response = http.post(
        f"{api_base}/_config/webhooks/{name}", json={"url": url, "secret": secret, "events": list(events)}, timeout=10
    )
    response.raise_for_status()


class LocalStripe:
    """localstripe in a child process on 127.0.0.1 (the `Extra` contract of `patterns.extras`)."""

    name = "stripe"

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or int(os.environ.get("LOCALSTRIPE_PORT") or DEFAULT_PORT)
        self.api_key, self.webhook_secret = new_api_key(), new_webhook_secret()
        self.log_path = log_path
        self.process: ManagedProcess | None = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, base_dir: Path, timeout: float = 30.0) -> None:
        if port_in_use(self.port):
            raise RuntimeError(
                f"port {self.port} for localstripe is already in use; stop what runs there or set LOCALSTRIPE_PORT"
            )
        self.process = ManagedProcess(
            f"localstripe on {self.api_base}",
            [sys.executable, "-m", "patterns.localstripe", "--port", str(self.port), "--no-webhook"],
            env={"PYTHONUNBUFFERED": "1"},
            log=self.log_path or base_dir / "localstripe.log",
            ready=lambda: http_ok(f"{self.api_base}/v1/customers", auth=(self.api_key, "")),
            stop_timeout=10,
        )
        self.process.start(timeout)

    def server_settings(self) -> dict[str, str]:
        return {}

    def service_env(self) -> dict[str, str]:
        return {
            "STRIPE_API_BASE": self.api_base,
            "STRIPE_API_KEY": self.api_key,
            "STRIPE_WEBHOOK_SECRET": self.webhook_secret,
        }

    def register_webhook(self, url: str, name: str = "restate") -> None:
        """Send the signed payment_intent.* webhooks to `url` (registering `name` again re-points it)."""
        register_webhook(self.api_base, url, self.webhook_secret, name=name)

    def after_registration(self, admin_url: str, ingress_url: str, patterns: list[Pattern]) -> list[str]:
        lines = []
        for name, url in webhook_urls(ingress_url, patterns).items():
            self.register_webhook(url, name)
            lines.append(f"localstripe {self.api_base}: payment_intent.* webhooks -> {url}")
        return lines

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def webhook_urls(ingress_url: str, patterns: list[Pattern]) -> dict[str, str]:
    """pattern -> the URL of the handler it declares for Stripe's webhooks, through the Restate ingress."""
    ingress_url = ingress_url.rstrip("/")
    return {p.name: f"{ingress_url}/{target}" for p in patterns for extra, target in p.webhooks if extra == "stripe"}


def run_server(port: int, webhook_urls: dict[str, str], api_key: str, webhook_secret: str) -> None:
    """Serve localstripe in this process, on 127.0.0.1 only, with its data in memory only."""
    from aiohttp import web
    from localstripe import webhooks  # type: ignore[import-untyped]
    from localstripe.resources import Store, store  # type: ignore[import-untyped]
    from localstripe.server import app  # type: ignore[import-untyped]

    def no_pickle(self: Any) -> None:  # no shared <tmp>/localstripe.pickle: each instance is independent
        return None

    Store.dump_to_disk = no_pickle
    store.clear()  # what `localstripe --from-scratch` does
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [%(levelname)s] localstripe - %(message)s")
    access = logging.getLogger("aiohttp.access")  # one line per request is too much: keep webhook deliveries
    access.addFilter(lambda record: record.getMessage().startswith("webhook"))
    for name, url in webhook_urls.items():
        webhooks.register_webhook(name, url, webhook_secret, list(PAYMENT_INTENT_EVENTS))
    base = f"http://127.0.0.1:{port}"
    print(f"localstripe (a local fake of the Stripe API, data in memory only) on {base}", flush=True)
    for url in webhook_urls.values():
        print(f"webhook: payment_intent.* events -> {url}", flush=True)
    if webhook_urls:
        print("for the service, in its shell:", flush=True)
        print(
            f"  export STRIPE_API_BASE={base} STRIPE_API_KEY={api_key} STRIPE_WEBHOOK_SECRET={webhook_secret}",
            flush=True,
        )
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=access)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m patterns.localstripe", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCALSTRIPE_PORT") or DEFAULT_PORT))
    parser.add_argument(
        "--webhook-url",
        help="where to send payment_intent.* webhooks (default: the handlers the patterns declare, through the "
        "Restate ingress at $RESTATE_INGRESS_URL, else localhost:8080)",
    )
    parser.add_argument("--no-webhook", action="store_true", help="register no webhook (the launcher does it later)")
    args = parser.parse_args(argv)
    if args.no_webhook:
        urls = {}
    elif args.webhook_url:
        urls = {"restate": args.webhook_url}
    else:
        ingress_url = os.environ.get("RESTATE_INGRESS_URL", "http://localhost:8080")
        urls = webhook_urls(ingress_url, load_patterns(services=False))
    run_server(args.port, urls, new_api_key(), new_webhook_secret())


if __name__ == "__main__":
    main()
