"""Use a limiter from inside a handler: `Limiter.from_context(ctx, limiter_id).wait()`."""

from __future__ import annotations

from datetime import timedelta

from restate import Context, TerminalError

from ratelimit.limiter import (
    RateRequest,
    Reservation,
    ReserveRequest,
    available_tokens,
    cancel_reservation,
    reserve,
    set_rate,
)


class Limiter:
    def __init__(self, ctx: Context, limiter_id: str) -> None:
        self.ctx, self.limiter_id = ctx, limiter_id

    @staticmethod
    def from_context(ctx: Context, limiter_id: str) -> Limiter:
        return Limiter(ctx, limiter_id)

    async def tokens(self) -> float:
        """The tokens in the bucket now (negative: owed to reservations that still wait)."""
        return await self.ctx.object_call(available_tokens, key=self.limiter_id, arg=None)

    async def allow(self, n: int = 1) -> bool:
        """May n events happen now? If so they are counted. For events you drop rather than delay."""
        return (await self.reserve(n, wait_limit_millis=0)).ok

    async def reserve(self, n: int = 1, wait_limit_millis: float | None = None) -> Reservation:
        """Take n tokens, now or owed: the reservation says when to act (not ok: more than the burst, or a
        longer wait than `wait_limit_millis`). The limiter counts it until you `cancel` it."""
        request = ReserveRequest(n=n, wait_limit_millis=wait_limit_millis)
        return await self.ctx.object_call(reserve, key=self.limiter_id, arg=request)

    def cancel(self, reservation: Reservation) -> None:
        """We will not act on this reservation: give its tokens back, as far as later reservations allow."""
        self.ctx.object_send(cancel_reservation, key=self.limiter_id, arg=reservation)

    async def set_rate(self, new_limit: float | None = None, new_burst: int | None = None) -> None:
        """Change the limit and/or the burst. Reservations made before may over- or underuse the new rate."""
        await self.ctx.object_call(
            set_rate, key=self.limiter_id, arg=RateRequest(new_limit=new_limit, new_burst=new_burst)
        )

    async def wait(self, n: int = 1, wait_limit_millis: float | None = None) -> None:
        """Wait (a durable sleep) until n events may happen. 429 if n exceeds the burst, or the wait would be
        longer than `wait_limit_millis`."""
        reservation = await self.reserve(n, wait_limit_millis)
        if not reservation.ok:
            if wait_limit_millis is None:
                raise TerminalError(f"rate: Wait(n={n}) would exceed the limiters burst", status_code=429)
            raise TerminalError(
                f"rate: Wait(n={n}) would either exceed the limiters burst or the provided waitLimitMillis",
                status_code=429,
            )

        delay = reservation.date_to_act - reservation.creation_date
        if delay <= 0:
            return
        try:
            await self.ctx.sleep(timedelta(milliseconds=delay))
        except TerminalError:
            # Only a cancellation of this invocation ends a sleep with an error: hand the tokens back (a one-way
            # send, so the limiter does it even though we are on our way out), then stop.
            self.cancel(reservation)
            raise
