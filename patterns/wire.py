"""The wire contract: JSON field names are the TypeScript examples' camelCase, Python attributes snake_case.

    class Reservation(CamelModel):
        product_id: str          # {"productId": "..."} on the wire; {"product_id": ...} accepted too

restate-sdk serializes pydantic models with a plain `model_dump_json()`, so the aliases must apply by
default (`serialize_by_alias`) for return values and state to come out camelCase.
"""

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,  # the Go examples' snake_case payloads work as well
        serialize_by_alias=True,
    )
