"""Register deployments with restate-server through the admin API (what `restate deployments register` does)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from patterns.httpclient import http

MANIFEST_ACCEPT = "application/vnd.restate.endpointmanifest.v4+json"


class RegistrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Handler:
    name: str
    kind: str | None  # EXCLUSIVE / SHARED / WORKFLOW, None for plain services
    input_schema: dict[str, Any] | None  # None: the handler takes no input (a bare POST)
    ingress_private: bool = False  # only other handlers can call it, not the ingress


@dataclass(frozen=True)
class Service:
    name: str
    kind: str  # SERVICE / VIRTUAL_OBJECT / WORKFLOW
    handlers: tuple[Handler, ...]

    @property
    def keyed(self) -> bool:
        return self.kind in ("VIRTUAL_OBJECT", "WORKFLOW")


def _schema(handler_input: dict[str, Any] | None) -> dict[str, Any] | None:
    """The input's JSON schema; `{}` for any JSON (a raw bytes input advertises the schema `true`); None for
    no input: no input at all, or an optional one without a schema (`_: NoInput`, patterns.wire)."""
    schema = (handler_input or {}).get("jsonSchema")
    if schema is None:
        return None
    return schema if isinstance(schema, dict) else {}


def parse_services(manifest: dict[str, Any]) -> list[Service]:
    services = []
    for raw in manifest.get("services", []):
        handlers = tuple(
            Handler(
                name=h["name"],
                kind=h.get("ty"),
                input_schema=_schema(h.get("input")),
                ingress_private=bool(h.get("ingressPrivate") or raw.get("ingressPrivate")),
            )
            for h in raw.get("handlers", [])
        )
        services.append(Service(name=raw["name"], kind=raw["ty"], handlers=handlers))
    return services


def register(admin_url: str, deployment_url: str, *, force: bool = True, timeout: float = 30.0) -> list[str]:
    """Register (or, with force, re-register) a deployment; returns the service names it serves.

    Idempotent: registering the same URL again answers 200 and changes nothing.
    """
    try:
        response = http.post(f"{admin_url}/deployments", json={"uri": deployment_url, "force": force}, timeout=timeout)
    except httpx.HTTPError as error:
        raise RegistrationError(f"cannot reach the Restate admin API at {admin_url}: {error}") from error
    if response.status_code not in (200, 201):
        raise RegistrationError(
            f"registering {deployment_url} failed with HTTP {response.status_code}: {response.text.strip()}"
        )
    return [service["name"] for service in response.json().get("services", [])]
