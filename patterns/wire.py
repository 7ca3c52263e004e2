"""The wire contract: camelCase JSON in and out, and one way of refusing bad input.

JSON field names are the TypeScript examples' camelCase, Python attributes snake_case:

    class Reservation(CamelModel):
        product_id: str          # {"productId": "..."} on the wire; {"product_id": ...} accepted too

restate-sdk serializes pydantic models with a plain `model_dump_json()`, so the aliases must apply by
default (`serialize_by_alias`) for return values and state to come out camelCase.

Input is checked in one place: every service passes `invocation_context_managers=[bad_input_is_400]`, and
every handler declares what it takes with a type (a pydantic model, or a constrained scalar such as
`Annotated[int, Strict(), Field(gt=0)]`). Unknown JSON fields are accepted and ignored (pydantic's default),
as the TypeScript services ignore them. A handler without input declares `_: NoInput`: restate-sdk then
accepts a bare POST, a JSON content type with an empty body (what the TypeScript clients send) and `null`,
where a handler with no parameter refuses any content type.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import math
from functools import cache
from types import UnionType
from typing import Annotated, Any, TypeAlias, Union, cast, get_args, get_origin

import pydantic_core
from pydantic import AfterValidator, BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel
from restate import ObjectSharedContext, TerminalError
from restate.server_context import current_context


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,  # the Go examples' snake_case payloads work as well
        serialize_by_alias=True,
        strict=True,  # JSON types as declared: no "5" for 5, no true for 1
    )


NoInput: TypeAlias = None
"""The input of a handler that takes none: `async def reserve(ctx: ObjectContext, _: NoInput)`."""

INPUT_ERROR = "Unable to parse an input argument."
MAX_INPUT_BYTES = 1024 * 1024  # no handler here needs more; a bigger body is refused before it is looked at
MAX_KEY_LENGTH = 256


class bad_input_is_400:  # noqa: N801 - used like a function: invocation_context_managers=[bad_input_is_400]
    """Refuse bad input with a 4xx and a message before the handler runs, so that it changes nothing.

    - a body over MAX_INPUT_BYTES: 413;
    - an object or workflow key that is empty, over MAX_KEY_LENGTH characters or not printable: 400;
    - a body that is not strict JSON (UTF-8, no NaN or Infinity, numbers in range, nesting depth <= 200), that
      does not match the handler's input type, or that is missing where the input is neither Optional nor
      has a default: 400.

    Without this, restate-sdk answers 500 for any input it cannot parse, and hands `None` to a handler called
    with an empty body, which then fails in the middle and is retried for ever.

    A class rather than an `@asynccontextmanager` generator: fewer instructions per invocation (bench/README.md).
    """

    async def __aenter__(self) -> None:
        refuse_bad_input()

    async def __aexit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        if isinstance(error, TerminalError):
            raise_400_for_input_error(error)


def refuse_bad_input() -> None:
    """The checks of bad_input_is_400 on the invocation being run (restate.server_context)."""
    ctx = current_context()
    handler = getattr(ctx, "handler", None)  # the restate-sdk handler being invoked (ServerInvocationContext)
    if ctx is not None and handler is not None:
        body = ctx.request().body
        if len(body) > MAX_INPUT_BYTES:
            raise TerminalError(f"The input is too large: {len(body)} bytes, at most {MAX_INPUT_BYTES}", 413)
        if handler.service_tag.kind in ("object", "workflow"):
            check_key(cast("ObjectSharedContext", ctx).key())
        check_input(handler.fn, body)


def raise_400_for_input_error(error: TerminalError) -> None:
    """restate-sdk turns any input it cannot parse into a TerminalError with status 500: make it a 400."""
    if error.status_code == 500 and error.message.startswith(INPUT_ERROR):
        raise TerminalError(error.message, status_code=400) from error


def key_problem(key: str) -> str | None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        shown = f"{key[:64]!r}{'...' if len(key) > 64 else ''}"
        return f"invalid key {shown}: use 1 to {MAX_KEY_LENGTH} printable characters"
    return None


def check_key(key: str) -> None:
    problem = key_problem(key)
    if problem:
        raise TerminalError(problem[0].upper() + problem[1:], status_code=400)


def _key(value: str) -> str:
    problem = key_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Key = Annotated[str, AfterValidator(_key)]
"""A field that becomes the key of a virtual object or workflow: the same rule as check_key."""


@cache
def _input_of(fn: Any) -> inspect.Parameter | None:
    parameters = list(inspect.signature(fn, eval_str=True).parameters.values())
    return parameters[1] if len(parameters) > 1 else None


@cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def check_input(fn: Any, body: bytes) -> None:
    """Validate `body` against the input parameter of the handler function `fn` (see bad_input_is_400)."""
    parameter = _input_of(fn)
    if parameter is None or parameter.annotation is bytes:
        return  # no input (the ingress refuses a body), or raw bytes the handler checks itself
    no_input = parameter.annotation is None
    if not body:  # restate-sdk hands the handler None
        if parameter.default is inspect.Parameter.empty and not _takes_none(parameter.annotation):
            raise TerminalError(f"{INPUT_ERROR} The body is empty: this handler needs a JSON input", 400)
        return
    try:
        value = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as error:
        raise TerminalError(f"{INPUT_ERROR} Invalid JSON: {error}", 400) from None
    if not _finite(value):
        raise TerminalError(f"{INPUT_ERROR} A number is out of range", 400)
    if no_input:
        if value is not None:
            raise TerminalError(f"{INPUT_ERROR} This handler takes no input: send no body, or null", 400)
        return
    if parameter.annotation is not inspect.Parameter.empty:
        try:
            _adapter(parameter.annotation).validate_json(body)
        except ValidationError as error:
            if isinstance(parameter.annotation, type) and issubclass(parameter.annotation, BaseModel):
                problem = str(error)  # "1 validation error for <Model> ...", as restate-sdk would say
            else:  # a scalar: pydantic's title would be its internal schema name
                problem = "; ".join(detail["msg"] for detail in error.errors())
            raise TerminalError(f"{INPUT_ERROR} {problem}", 400) from None


def _takes_none(annotation: Any) -> bool:
    """An Optional input (`X | None`) may be left out: the handler gets None."""
    return annotation is None or (get_origin(annotation) in (Union, UnionType) and type(None) in get_args(annotation))


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    if isinstance(value, list):
        return all(_finite(item) for item in value)
    return True


# --- awakeable ids ------------------------------------------------------------------------------------------

AWAKEABLE_PREFIX = "sign_1"
_AWAKEABLE_BYTES = 24 + 4  # the invocation id (partition key + uuid), then the signal index (u32)


def is_awakeable_id(text: str) -> bool:
    """True for an id of the shape restate-sdk 1.3 hands out (`ctx.awakeable()`): `sign_1` + unpadded URL-safe
    base64 of 28 bytes, in canonical form.

    restate-server refuses to decode anything else when a handler resolves or rejects it, and then retries
    that invocation for ever, blocking its key: ids from outside are checked before they reach the journal."""
    if not isinstance(text, str) or not text.startswith(AWAKEABLE_PREFIX):
        return False
    encoded = text.removeprefix(AWAKEABLE_PREFIX)
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        return False
    return len(raw) == _AWAKEABLE_BYTES and base64.urlsafe_b64encode(raw).decode().rstrip("=") == encoded


def _awakeable_id(value: str) -> str:
    if not is_awakeable_id(value):
        raise ValueError(f"not an awakeable id (expected {AWAKEABLE_PREFIX}... as ctx.awakeable() returns)")
    return value


AwakeableId = Annotated[str, AfterValidator(_awakeable_id)]
"""A field or input that must be an awakeable id (see is_awakeable_id)."""
