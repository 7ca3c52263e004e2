"""The wire contract: JSON field names are the TypeScript examples' camelCase, Python attributes snake_case.

    class Reservation(CamelModel):
        product_id: str          # {"productId": "..."} on the wire; {"product_id": ...} accepted too

restate-sdk serializes pydantic models with a plain `model_dump_json()`, so the aliases must apply by
default (`serialize_by_alias`) for return values and state to come out camelCase.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from restate import TerminalError


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,  # the Go examples' snake_case payloads work as well
        serialize_by_alias=True,
    )


INPUT_ERROR = "Unable to parse an input argument."


@asynccontextmanager
async def bad_input_is_400() -> AsyncIterator[None]:
    """Answer 400 instead of 500 when a handler's input does not parse (bad JSON, pydantic validation).

    restate-sdk turns any input parsing error into a TerminalError with status 500. Pass this as
    `invocation_context_managers=[bad_input_is_400]` to a Service/VirtualObject: the caller then gets a 400
    with the SDK's message ("Unable to parse an input argument. 1 validation error for ...").
    """
    try:
        yield
    except TerminalError as error:
        if error.status_code == 500 and error.message.startswith(INPUT_ERROR):
            raise TerminalError(error.message, status_code=400) from error
        raise
