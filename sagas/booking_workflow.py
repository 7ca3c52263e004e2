"""The trip booking workflow: every step pushes its undo action; a terminal error runs them in reverse."""

from collections.abc import Awaitable, Callable
from typing import Any

from restate import TerminalError, Workflow, WorkflowContext

from patterns.wire import CamelModel, bad_input_is_400
from sagas import cars, flights, stubs


class BookingRequest(CamelModel):
    flights: flights.FlightRequest
    car: cars.CarRequest
    payment_info: stubs.PaymentInfo


class BookingResult(CamelModel):
    flight_booking_id: str
    car_booking_id: str
    payment_id: str


booking_workflow = Workflow("BookingWorkflow", invocation_context_managers=[bad_input_is_400])


@booking_workflow.main()
async def run(ctx: WorkflowContext, request: BookingRequest) -> BookingResult:
    # The undo actions of the steps done so far (a stack in plain code: Restate journals each action's effects).
    compensations: list[Callable[[], Awaitable[Any]]] = []
    try:
        # Two-phase: reserve first. The cancellation needs the booking id, so it is pushed after the reservation.
        # If the reservation itself fails, nothing is reserved: it was never confirmed.
        flight_booking = flights.FlightBooking(
            flight_booking_id=await ctx.service_call(flights.reserve, arg=request.flights)
        )
        compensations.append(lambda: ctx.service_call(flights.cancel, arg=flight_booking))

        car_booking = cars.CarBooking(car_booking_id=await ctx.service_call(cars.reserve, arg=request.car))
        compensations.append(lambda: ctx.service_call(cars.cancel, arg=car_booking))

        # Idempotency key: the payment goes through in one call, and an error does not tell whether it took
        # effect. So the refund is pushed *before* the charge, with the same (deterministic) payment id.
        payment_id = str(ctx.uuid())
        compensations.append(lambda: ctx.run_typed("refund", stubs.refund, payment_id=payment_id))

        await ctx.run_typed(
            "charge",
            stubs.charge,
            payment_info=request.payment_info,
            payment_id=payment_id,
            attempt_key=ctx.request().id,
        )

        # Only a successful charge confirms the reservations.
        await ctx.service_call(flights.confirm, arg=flight_booking)
        await ctx.service_call(cars.confirm, arg=car_booking)
    except TerminalError:
        # A terminal error is final: undo everything done so far, newest first, then fail the workflow.
        # (Transient errors never get here: Restate retries them.)
        for compensation in reversed(compensations):
            await compensation()
        raise
    return BookingResult(
        flight_booking_id=flight_booking.flight_booking_id,
        car_booking_id=car_booking.car_booking_id,
        payment_id=payment_id,
    )
