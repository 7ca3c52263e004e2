"""Bad requests for any handler, generated from its discovery manifest entry (input JSON schema, keyed or not).

Each case is a request that must be refused with a 4xx and a message, change no state and leave no
invocation behind that is not completed. Unknown JSON fields are accepted and ignored (pydantic's default,
as the TypeScript services do): they appear here only next to missing required fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from patterns.examples import example_value
from patterns.registration import Handler, Service

JSON = "application/json"
HUGE = 5 * 1024 * 1024
DEEP = 10_000

# Keys of virtual objects and workflows, as they appear in the URL path (already percent-encoded), and as
# strings (for calls from inside Restate). The ingress refuses the path `%FF` itself (not UTF-8).
ABSURD_KEYS = {
    "empty key": "",
    "300-character key": "k" * 300,
    "newline in key": "a\nb",
}


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes | None  # None: no body and no content type
    content_type: str | None = JSON
    key: str | None = None  # None: a fresh key per request; else this key (objects and workflows only)
    edge_only: bool = False  # bytes only an HTTP client sends; a handler calling another one sends JSON
    relayed: bool = True  # also sent to private handlers from inside (a sample: the checks are the same)
    per_service: bool = False  # a check of the whole service (bad_input_is_400): one handler per service

    def describe(self, service: Service, handler: Handler) -> str:
        return f"{service.name}/{handler.name}: {self.name}"


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _types(schema: dict[str, Any], defs: dict[str, Any]) -> set[str] | None:
    """The JSON types a schema allows; None when it allows anything (or we cannot tell)."""
    schema = _resolve(schema, defs)
    if "enum" in schema or "const" in schema:
        return None
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return set(kind)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        found: set[str] = set()
        for option in options:
            types = _types(option, defs)
            if types is None:
                return None
            found |= types
        return found
    if schema.get("properties") is not None:
        return {"object"}
    return None


# One value of each JSON type, the likeliest mix-ups first; "number" stands for a fractional number.
_SAMPLES: dict[str, list[Any]] = {
    "null": [None],
    "string": ["x"],
    "array": [[1, "x"]],
    "integer": [7],
    "number": [1.5],
    "boolean": [True],
    "object": [{"a": 1}],
}
WRONG_TYPES = 3  # per input: enough to show the type is checked


def wrong_values(schema: dict[str, Any], defs: dict[str, Any]) -> list[Any]:
    """Values of every JSON type the schema does not allow (none when it allows any JSON)."""
    allowed = _types(schema, defs)
    if allowed is None:
        return []
    if "number" in allowed:
        allowed = allowed | {"integer"}
    return [value for kind, values in _SAMPLES.items() if kind not in allowed for value in values]


def body_cases(schema: dict[str, Any] | None) -> list[Case]:
    """Bad bodies for a handler with this input schema (None: a handler without input)."""
    cases = [
        Case("malformed JSON", b'{"a":'),
        Case("non-UTF-8 bytes", b'{"a":"\xff\xfe"}', edge_only=True),
        Case(f"{DEEP}-deep arrays", b"[" * DEEP + b"]" * DEEP, edge_only=True),
        Case("lone surrogate", b'{"a":"\\ud800"}', edge_only=True, per_service=True),
        Case("NaN", b'{"a":NaN}', edge_only=True, per_service=True),
        Case("number out of range", b'{"a":1e400}', edge_only=True, per_service=True),
        Case("5 MB string", b'"' + b"x" * HUGE + b'"', edge_only=True, per_service=True),
    ]
    if schema is None:
        for value in [True, "x", {"a": 1}]:
            cases.append(Case(f"input {json.dumps(value)} for a handler without input", dumps(value)))
        return cases

    defs = schema.get("$defs", {})
    cases.append(Case("no body", None, content_type=None))
    cases.append(Case("empty JSON body", b"", relayed=False))
    cases.append(Case("whitespace body", b"  \n", relayed=False))
    for index, value in enumerate(wrong_values(schema, defs)[:WRONG_TYPES]):
        cases.append(Case(f"wrong type {json.dumps(value)}", dumps(value), relayed=index < 2))

    root = _resolve(schema, defs)
    properties: dict[str, Any] = root.get("properties") or {}
    required: list[str] = root.get("required") or []
    if properties and required:
        example = example_value(schema)
        cases.append(Case("empty object", b"{}"))
        cases.append(
            Case(
                "unknown fields only",
                dumps({"__proto__": {"admin": True}, "constructor": 1, "\u0000": 2, "<script>": 3, "x" * 1000: 4}),
                relayed=False,
            )
        )
        for name in required:
            body = dumps({k: v for k, v in example.items() if k != name})
            cases.append(Case(f"missing field {name}", body, relayed=name == required[0]))
        for name, prop in properties.items():
            # One value of another type than the field's (not null: that is close to a missing field).
            for value in [value for value in wrong_values(prop, defs) if value is not None][:1]:
                body = dumps({**example, name: value})
                cases.append(Case(f"field {name} = {json.dumps(value)}", body, relayed=name == next(iter(properties))))
        first_string = next((n for n, p in properties.items() if _types(p, defs) == {"string"}), None)
        if first_string:
            # Instead of the bare 5 MB string: a body that would do, but for its size.
            body = dumps({**example, first_string: "x" * HUGE})
            cases = [case for case in cases if case.name != "5 MB string"]
            cases.append(Case(f"5 MB in field {first_string}", body, edge_only=True, per_service=True))
    return cases


def key_cases(service: Service, handler: Handler) -> list[Case]:
    """A body that would do, with an absurd key: the key alone must get the request refused."""
    if not service.keyed:
        return []
    if handler.input_schema is None:
        body, content_type = None, None
    else:
        body, content_type = dumps(example_value(handler.input_schema)), JSON
    return [
        Case(name, body, content_type, key, relayed=key == "", per_service=True) for name, key in ABSURD_KEYS.items()
    ]


def cases_for(service: Service, handler: Handler) -> list[Case]:
    return body_cases(handler.input_schema) + key_cases(service, handler)


def path_of(service: Service, handler: Handler, case: Case, fresh_key: str) -> str:
    if not service.keyed:
        return f"/{service.name}/{handler.name}"
    key = fresh_key if case.key is None else case.key
    return f"/{service.name}/{quote(key, safe='')}/{handler.name}"
