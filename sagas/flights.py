"""The flight reservation service: reserve, then confirm or cancel (two-phase)."""

import restate
from pydantic import Field
from restate import Context, Service

from patterns.wire import CamelModel, bad_input_is_400

logger = restate.getLogger(__name__)


class FlightRequest(CamelModel):
    flight_id: str = Field(examples=["12345"])
    passenger_name: str = Field(examples=["John Doe"])


class FlightBooking(CamelModel):
    flight_booking_id: str


# Only the booking workflow calls it: not reachable through the ingress.
flights = Service("flights", ingress_private=True, invocation_context_managers=[bad_input_is_400])


@flights.handler()
async def reserve(ctx: Context, request: FlightRequest) -> str:
    booking_id = str(ctx.uuid())  # deterministic: the same id if this handler is retried
    logger.info("Flight %s reserved", booking_id)
    return booking_id


@flights.handler()
async def confirm(ctx: Context, booking: FlightBooking) -> None:
    logger.info("Flight %s confirmed", booking.flight_booking_id)


@flights.handler()
async def cancel(ctx: Context, booking: FlightBooking) -> None:
    logger.info("Flight %s cancelled", booking.flight_booking_id)
