"""Example curl lines for a service's handlers, built from the JSON schema in its discovery manifest."""

from __future__ import annotations

import json
from typing import Any

from patterns.registration import Handler, Service

_PLACEHOLDER = {"string": "text", "integer": 1, "number": 1.5, "boolean": True, "null": None}


def example_value(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A plausible value for `schema`: its examples or default if it has any, else one built from its type."""
    defs = {**(defs or {}), **schema.get("$defs", {})}
    if "$ref" in schema:
        return example_value(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [option for option in schema.get(key, []) if option.get("type") != "null"]
        if options:
            return example_value(options[0], defs)
    kind = schema.get("type")
    if isinstance(kind, list):  # e.g. ["object", "null"] for an optional model
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        wanted = schema.get("required") or list(properties)
        return {name: example_value(properties[name], defs) for name in wanted if name in properties}
    if kind == "array":
        return [example_value(schema.get("items", {}), defs)]
    return _PLACEHOLDER.get(kind or "")


def example_curl(ingress: str, service: Service, handler: Handler, key: str = "key1") -> str:
    if handler.ingress_private:
        return "(internal: called by the pattern, not through the ingress)"
    host = ingress.removeprefix("http://")
    path = f"{service.name}/{key}/{handler.name}" if service.keyed else f"{service.name}/{handler.name}"
    if handler.input_schema is None:
        return f"curl -X POST {host}/{path}"
    payload = json.dumps(example_value(handler.input_schema), separators=(",", ":"))
    return f"curl {host}/{path} --json '{payload}'"
