"""The car rental service: reserve, then confirm or cancel (two-phase)."""

import restate
from pydantic import Field
from restate import Context, Service

from patterns.wire import CamelModel, bad_input_is_400

logger = restate.getLogger(__name__)


class CarRequest(CamelModel):
    pickup_location: str = Field(examples=["Airport"])
    rental_date: str = Field(examples=["2024-12-16"])


class CarBooking(CamelModel):
    car_booking_id: str


# Only the booking workflow calls it: not reachable through the ingress.
cars = Service("cars", ingress_private=True, invocation_context_managers=[bad_input_is_400])


@cars.handler()
async def reserve(ctx: Context, request: CarRequest) -> str:
    booking_id = str(ctx.uuid())
    logger.info("Car %s reserved", booking_id)
    return booking_id


@cars.handler()
async def confirm(ctx: Context, booking: CarBooking) -> None:
    logger.info("Car %s confirmed", booking.car_booking_id)


@cars.handler()
async def cancel(ctx: Context, booking: CarBooking) -> None:
    logger.info("Car %s cancelled", booking.car_booking_id)
