"""patterns.wire: what bad_input_is_400 refuses before a handler runs (without a server; the bad-input
matrix in tests/hostile checks every pattern's handlers through restate-server)."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import Field, Strict
from restate import TerminalError

from patterns.wire import CamelModel, Key, NoInput, check_input, check_key


class Order(CamelModel):
    item_id: Key
    count: int = Field(gt=0)


async def takes_order(ctx: Any, order: Order) -> None: ...


async def takes_cents(ctx: Any, cents: Annotated[int, Strict(), Field(gt=0)]) -> None: ...


async def takes_maybe(ctx: Any, order: Order | None) -> None: ...


async def takes_nothing(ctx: Any, _: NoInput) -> None: ...


async def takes_bytes(ctx: Any, body: bytes) -> None: ...


@pytest.mark.parametrize(
    ("fn", "body", "message"),
    [
        (takes_order, b"", "The body is empty"),
        (takes_order, b'{"itemId": "a",', "Invalid JSON"),
        (takes_order, b'{"itemId": "\xff"}', "Invalid JSON"),
        (takes_order, b"[" * 1000 + b"]" * 1000, "Invalid JSON: recursion limit exceeded"),
        (takes_order, b'{"itemId": "a", "count": NaN}', "Invalid JSON"),
        (takes_order, b'{"itemId": "a", "count": 1e400}', "A number is out of range"),
        (takes_order, b'{"itemId": "a", "count": "2"}', "count\n  Input should be a valid integer"),
        (takes_order, b'{"itemId": "", "count": 2}', "itemId\n  Value error, invalid key ''"),
        (takes_cents, b"true", "Input should be a valid integer"),
        (takes_cents, b"0", "Input should be greater than 0"),
        (takes_nothing, b'{"a": 1}', "This handler takes no input"),
    ],
)
def test_refused(fn: Any, body: bytes, message: str) -> None:
    with pytest.raises(TerminalError) as refused:
        check_input(fn, body)
    assert refused.value.status_code == 400
    assert refused.value.message.startswith("Unable to parse an input argument.")
    assert message in refused.value.message


@pytest.mark.parametrize(
    ("fn", "body"),
    [
        (takes_order, b'{"itemId": "a", "count": 2, "unknown": [1]}'),  # unknown fields are ignored
        (takes_order, b'{"item_id": "a", "count": 2}'),  # snake_case too
        (takes_cents, b"5"),
        (takes_maybe, b""),  # an Optional input may be left out
        (takes_nothing, b""),
        (takes_nothing, b"null"),
        (takes_bytes, b"\xff anything"),  # raw bytes: the handler checks them itself (a signature)
    ],
)
def test_accepted(fn: Any, body: bytes) -> None:
    check_input(fn, body)


@pytest.mark.parametrize("key", ["", "k" * 257, "a\nb", "a\x00b", "a\u2028b"])
def test_absurd_keys_are_refused(key: str) -> None:
    with pytest.raises(TerminalError, match="use 1 to 256 printable characters"):
        check_key(key)


@pytest.mark.parametrize("key", ["k", "myService/expensiveMethod", "user1@example.com", "Straße 5", "k" * 256])
def test_ordinary_keys_pass(key: str) -> None:
    check_key(key)
