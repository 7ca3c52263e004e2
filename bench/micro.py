"""`python -m bench.micro`: what single pieces of a request cost, in microseconds of CPU, in this process.

The end-to-end runs cannot resolve a few microseconds on a shared machine; these loops can (each figure is
the best of several repeats, which machine noise can only make slower). Measured: one log line as the
patterns log it, `bad_input_is_400` around an invocation, and the serde of the models a saga request and a
fan-out request go through: pydantic `CamelModel` (what the patterns use), a plain pydantic model without
aliases, and a msgspec Struct (restate-sdk's other typed serde) with the same camelCase fields.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from typing import Annotated, Any, cast

import msgspec
from pydantic import BaseModel, Field
from restate import server_context

from bench.candidates import bad_input_is_400_generator
from patterns.serving import LOG_FORMAT
from patterns.wire import bad_input_is_400, check_input
from sagas import booking_workflow
from sagas.booking_workflow import BookingRequest, BookingResult
from sagas.cars import CarBooking
from sagas.flights import FlightBooking

NUMBER = 2000
REPEAT = 7


def best_us(fn: Callable[[], object], number: int = NUMBER) -> float:
    # CPU time of this thread: time spent preempted by other processes does not count.
    return min(timeit.repeat(fn, number=number, repeat=REPEAT, timer=time.thread_time)) / number * 1e6


def logging_line() -> dict[str, float]:
    import restate

    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as file:
        path = file.name
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger = restate.getLogger("bench.micro")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        shown = best_us(lambda: logger.info("Started executing subtask: %s", "make coffee"))
        logger.setLevel(logging.WARNING)
        filtered = best_us(lambda: logger.info("Started executing subtask: %s", "make coffee"))
    finally:
        logger.removeHandler(handler)
        handler.close()
        os.unlink(path)
    return {"INFO line written": shown, "INFO line below the level": filtered}


def context_manager() -> dict[str, float]:
    """The mechanics of entering and leaving bad_input_is_400 (the invocation has no handler: no checks), as
    the class it is and as the @asynccontextmanager generator it was; then its checks of a saga request."""

    async def bare() -> None:
        pass

    async def wrapped() -> None:
        async with bad_input_is_400():
            pass

    async def generator() -> None:
        async with bad_input_is_400_generator():
            pass

    async def loop(body: Callable[[], Any], n: int) -> None:
        server_context._restate_context_var.set(cast("Any", object()))  # an invocation without a handler
        for _ in range(n):
            await body()

    def timed(body: Callable[[], Any]) -> float:
        return min(
            timeit.repeat(lambda: asyncio.run(loop(body, NUMBER)), number=1, repeat=REPEAT, timer=time.thread_time)
        ) / NUMBER * 1e6  # fmt: skip

    return {
        "bad_input_is_400 enter + exit, class": timed(wrapped) - timed(bare),
        "bad_input_is_400 enter + exit, generator": timed(generator) - timed(bare),
        "input checks of a BookingRequest (check_input)": best_us(lambda: check_input(booking_workflow.run, SAGA_BODY)),
    }


# The saga's models as msgspec Structs and as plain pydantic models (camelCase field names on the wire).
class _Struct(msgspec.Struct, rename="camel"):
    pass


class FlightRequestS(_Struct):
    flight_id: str
    passenger_name: str


class CarRequestS(_Struct):
    pickup_location: str
    rental_date: str


class PaymentInfoS(_Struct):
    card_number: str
    amount: Annotated[int, msgspec.Meta(gt=0)]


class BookingRequestS(_Struct):
    flights: FlightRequestS
    car: CarRequestS
    payment_info: PaymentInfoS


# Plain pydantic: the wire's camelCase names as attribute names, no aliases (what CamelModel's aliases cost).
class FlightRequestP(BaseModel):
    flightId: str  # noqa: N815
    passengerName: str  # noqa: N815


class CarRequestP(BaseModel):
    pickupLocation: str  # noqa: N815
    rentalDate: str  # noqa: N815


class PaymentInfoP(BaseModel):
    cardNumber: str  # noqa: N815
    amount: int = Field(gt=0)


class BookingRequestP(BaseModel):
    flights: FlightRequestP
    car: CarRequestP
    paymentInfo: PaymentInfoP  # noqa: N815


class SubTaskP(BaseModel):
    description: str = Field(min_length=1)


class SubTaskS(_Struct):
    description: str


SAGA_BODY = json.dumps(
    {
        "flights": {"flightId": "12345", "passengerName": "John Doe"},
        "car": {"pickupLocation": "Airport", "rentalDate": "2024-12-16"},
        "paymentInfo": {"cardNumber": "4111111111111111", "amount": 1500},
    }
).encode()


def serde() -> dict[str, float]:
    """Decode + encode of the saga's request, and of the small models it passes on (a booking id)."""
    booking = BookingRequest.model_validate_json(SAGA_BODY)
    small = FlightBooking(flight_booking_id="c6f2b8a2-3d8e-4a86-9f5a-1b2c3d4e5f60")
    small_json = small.model_dump_json().encode()
    result = BookingResult(flight_booking_id="f", car_booking_id="c", payment_id="p")
    struct = msgspec.json.decode(SAGA_BODY, type=BookingRequestS)
    return {
        "BookingRequest decode, CamelModel": best_us(lambda: BookingRequest.model_validate_json(SAGA_BODY)),
        "BookingRequest decode, plain pydantic": best_us(lambda: BookingRequestP.model_validate_json(SAGA_BODY)),
        "BookingRequest decode, msgspec Struct": best_us(lambda: msgspec.json.decode(SAGA_BODY, type=BookingRequestS)),
        "BookingRequest encode, CamelModel": best_us(lambda: booking.model_dump_json().encode()),
        "BookingRequest encode, msgspec Struct": best_us(lambda: msgspec.json.encode(struct)),
        "FlightBooking decode + encode, CamelModel": best_us(
            lambda: FlightBooking.model_validate_json(small_json).model_dump_json()
        ),
        "CarBooking decode + encode, CamelModel": best_us(
            lambda: CarBooking.model_validate_json(b'{"carBookingId": "c"}').model_dump_json()
        ),
        "BookingResult encode, CamelModel": best_us(lambda: result.model_dump_json().encode()),
        "SubTask decode + encode, plain pydantic": best_us(
            lambda: SubTaskP.model_validate_json(b'{"description": "s1"}').model_dump_json()
        ),
        "SubTask decode + encode, msgspec Struct": best_us(
            lambda: msgspec.json.encode(msgspec.json.decode(b'{"description": "s1"}', type=SubTaskS))
        ),
        "json.loads + dumps of a str (the SDK's default serde)": best_us(lambda: json.dumps(json.loads(b'"hello"'))),
    }


def main() -> int:
    results = {"logging": logging_line(), "context managers": context_manager(), "serde": serde()}
    for group, figures in results.items():
        print(f"\n{group}:")
        for name, us in figures.items():
            print(f"  {name:58s} {us:7.2f} us")
    if "--json" in sys.argv:
        print(json.dumps({g: {k: round(v, 2) for k, v in f.items()} for g, f in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
