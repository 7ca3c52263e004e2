"""Example calls for the handlers of a pattern, as the dev runner prints them.

An example is a call a reader can paste and that works on a fresh stack, so it comes from what is already
proven to work: the pattern's README walkthrough (its ```shell blocks, which the walkthrough tests run in
order), else an example declared on the handler's input model (`Field(examples=[...])` on its fields, or
`json_schema_extra={"examples": [...]}`: the discovery manifest carries them). Calls the README shows
failing on purpose (its output block shows `"code":4xx/5xx`) are no examples. A handler with neither gets
a pointer to the README instead of a guess.

The Markdown block reader lives here too (`blocks`): `tests/readme.py` runs the walkthroughs with it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patterns.registration import Handler, Service

FENCE = re.compile(r"^(\s*)```([^`]*)$")  # CommonMark: the info string of a backtick fence has no backtick
INGRESS = "localhost:8080"  # what README commands call; the dev runner prints its own ingress instead
_SHELL_SYNTAX = re.compile(r"[|;`]|\$\(|&&")  # pipes, command substitution: not a plain pastable call
_ERROR_OUTPUT = re.compile(r'"code"\s*:\s*[45]\d\d\b')
_PLACEHOLDER = {"string": "text", "integer": 1, "number": 1.5, "boolean": True, "null": None}


@dataclass(frozen=True)
class Block:
    info: tuple[str, ...]  # the words after the opening fence: ("shell",), ("json", "output"), ("mermaid",)
    text: str
    line: int


def blocks(markdown: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order (list-item indentation removed)."""
    found, lines, i = [], markdown.splitlines(), 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, info, start = len(match[1]), tuple(match[2].split()), i
        body = []
        i += 1
        while i < len(lines) and not FENCE.match(lines[i]):
            line = lines[i]
            body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())  # list-item indent
            i += 1
        found.append(Block(info, "\n".join(body), start + 1))
        i += 1
    return found


def readme_calls(markdown: str) -> list[str]:
    """The plain `curl localhost:8080/...` lines of a README walkthrough that succeed, in README order."""
    found = blocks(markdown)
    calls = []
    for index, block in enumerate(found):
        if block.info[:1] not in (("shell",), ("sh",), ("bash",)) or "start" in block.info or "no-run" in block.info:
            continue
        commands = [
            line.strip() for line in block.text.splitlines() if line.strip() and not line.strip().startswith("#")
        ]
        following = found[index + 1] if index + 1 < len(found) else None
        output = following.text if following is not None and "output" in following.info else ""
        output_lines = [line for line in output.splitlines() if line.strip()]
        for position, command in enumerate(commands):
            if not command.startswith("curl ") or f"{INGRESS}/" not in command or _SHELL_SYNTAX.search(command):
                continue
            # One output line per command: judge each call by its own line; otherwise by the whole block.
            shown = output_lines[position] if len(output_lines) == len(commands) else output
            if not _ERROR_OUTPUT.search(shown):
                calls.append(command)
    return calls


def handler_path(service: Service, handler: Handler) -> re.Pattern[str]:
    """What a call to this handler looks like after the host: `service/handler` or `service/<key>/handler`,
    optionally `/send`, then the end of the URL or a query string."""
    key = r"[^/\s'\"?]+/" if service.keyed else ""
    return re.compile(rf"/{re.escape(service.name)}/{key}{re.escape(handler.name)}(?:/send)?(?=[\s'\"?]|$)")


def example_value(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A plausible value for `schema`: its examples or default if it has any, else one built from its type.
    (For generated requests, e.g. the bad-input tests; the dev runner prints declared examples only.)"""
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


def declared_example(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> tuple[Any] | None:
    """The example declared on the input (a model's `json_schema_extra`, or `Field(examples=...)` on every
    required field, nested models included), as a 1-tuple; None if the input declares none."""
    defs = {**(defs or {}), **schema.get("$defs", {})}
    if "$ref" in schema:
        return declared_example(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    if schema.get("examples"):
        return (schema["examples"][0],)
    properties: dict[str, Any] = schema.get("properties") or {}
    required: list[str] = schema.get("required") or []
    if schema.get("type") != "object" or not required:
        return None
    value = {}
    for name, field in properties.items():
        example = declared_example(field, defs)
        if example is None and name in required:
            return None
        if example is not None:
            value[name] = example[0]
    return (value,)


def call_key(service: Service, calls: list[str]) -> str | None:
    """The object key the README's calls use for `service` (e.g. `trip123`), if they call it."""
    for call in calls:
        match = re.search(rf"{re.escape(INGRESS)}/{re.escape(service.name)}/([^/\s'\"?]+)/", call)
        if match:
            return match[1]
    return None


def example_curl(ingress: str, service: Service, handler: Handler, readme: list[str] | None = None) -> str:
    """The example call of one handler: the first fitting call of the README (`readme_calls`), else one
    built from the input's declared example (with the object key the README uses); `ingress` is the
    host:port to print."""
    if handler.ingress_private:
        return "(internal: called by the pattern, not through the ingress)"
    calls = readme or []
    path = handler_path(service, handler)
    for call in calls:
        if path.search(call.replace(f"{INGRESS}/", "/")):
            return call.replace(INGRESS, ingress)
    host = ingress.removeprefix("http://")
    key = call_key(service, calls) or "key1"
    url = f"{host}/{service.name}/{key}/{handler.name}" if service.keyed else f"{host}/{service.name}/{handler.name}"
    if handler.input_schema is None:
        return f"curl -X POST {url}"
    example = declared_example(handler.input_schema)
    if example is None:
        return "(no example here: see the pattern's README)"
    return f"curl {url} --json '{json.dumps(example[0], separators=(',', ':'))}'"


def examples(pattern_dir: Path, services: tuple[Service, ...], ingress: str) -> list[tuple[Service, Handler, str]]:
    """Every handler of a pattern with its example: those from the README first, in README order (a call
    may need an earlier one: a payment made before it is cancelled), then the others in manifest order."""
    readme = pattern_dir / "README.md"
    calls = readme_calls(readme.read_text()) if readme.exists() else []
    printed = [call.replace(INGRESS, ingress) for call in calls]
    rows = [
        (service, handler, example_curl(ingress, service, handler, calls))
        for service in services
        for handler in service.handlers
    ]
    return sorted(rows, key=lambda row: printed.index(row[2]) if row[2] in printed else len(printed))
