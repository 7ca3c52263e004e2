"""The `limiter` virtual object: one token bucket per limiter id (a port of Go's `rate.Limiter`).

Tokens refill at `limit` per second, up to `burst`. A reservation takes its tokens at once when the bucket
has them; otherwise it runs into debt and says when the debt is paid (`dateToAct`), and later reservations
line up behind it. Times are unix milliseconds from `ctx.time()`, which is journaled: a retry of the same
invocation computes with the same clock reading, so it takes the same tokens.
"""

from __future__ import annotations

import math
from datetime import timedelta

from pydantic import Field
from restate import ObjectContext, ObjectSharedContext, TerminalError, VirtualObject

from patterns.wire import CamelModel, NoInput, bad_input_is_400

# A reservation that would have to wait longer than this is refused, like one that would wait for ever.
LONGEST_WAIT = timedelta(days=365)


def is_none(value: object) -> bool:
    return value is None


class LimiterState(CamelModel):
    limit: float = 0.0  # tokens per second
    burst: int = 0  # size of the bucket: the most tokens one reservation may take
    tokens: float = 0.0  # in the bucket at `last`; negative: owed to reservations still waiting
    last: float = 0.0  # when `tokens` was last brought up to date
    last_event: float = 0.0  # the latest time at which a reservation may act (past or future)


class Reservation(CamelModel):
    ok: bool
    tokens: int = Field(default=0, ge=0)  # tokens taken (0 when not ok)
    creation_date: float
    date_to_act: float = 0.0  # when the holder may act
    limit: float  # the limit when the reservation was made (it may change later)


class ReserveRequest(CamelModel):
    n: int = Field(default=1, ge=1)
    # The longest the caller is willing to wait. Absent: as long as it takes (JSON has no Infinity).
    wait_limit_millis: float | None = Field(default=None, ge=0, allow_inf_nan=False, exclude_if=is_none)


class RateRequest(CamelModel):
    # Absent: unchanged.
    new_limit: float | None = Field(default=None, ge=0, allow_inf_nan=False, exclude_if=is_none, examples=[1])
    new_burst: int | None = Field(default=None, ge=0, exclude_if=is_none, examples=[1])


limiter = VirtualObject("limiter", invocation_context_managers=[bad_input_is_400])


@limiter.handler(kind="shared")
async def state(ctx: ObjectSharedContext, _: NoInput) -> LimiterState:
    return await load(ctx)


@limiter.handler("tokens", kind="shared")
async def available_tokens(ctx: ObjectSharedContext, _: NoInput) -> float:
    """The tokens in the bucket now (negative: owed to reservations that still wait)."""
    return advance(await load(ctx), await now_millis(ctx))


@limiter.handler(ingress_private=True)
async def reserve(ctx: ObjectContext, request: ReserveRequest) -> Reservation:
    lim = await load(ctx)
    now = await now_millis(ctx)

    # Take n tokens. What is left may be negative: a debt, paid by waiting until the bucket has refilled.
    tokens = advance(lim, now) - request.n
    wait_millis = duration_from_tokens(lim.limit, -tokens) if tokens < 0 else 0.0
    ok = (
        request.n <= lim.burst
        and wait_millis <= LONGEST_WAIT / timedelta(milliseconds=1)  # (with limit 0 it is for ever)
        and (request.wait_limit_millis is None or wait_millis <= request.wait_limit_millis)
    )
    if not ok:
        return Reservation(ok=False, creation_date=now, limit=lim.limit)  # takes nothing

    reservation = Reservation(
        ok=True, tokens=request.n, creation_date=now, date_to_act=now + wait_millis, limit=lim.limit
    )
    lim.tokens, lim.last, lim.last_event = tokens, now, reservation.date_to_act
    ctx.set("state", lim)
    return reservation


@limiter.handler("setRate")
async def set_rate(ctx: ObjectContext, request: RateRequest | None) -> None:
    if request is None:  # no body, or null
        raise TerminalError('setRate takes {"newLimit": <tokens per second>, "newBurst": <tokens>}', status_code=400)
    if request.new_limit is None and request.new_burst is None:
        return
    lim = await load(ctx)
    now = await now_millis(ctx)

    # Bring the bucket up to date at the old rate; the new one applies from now on.
    lim.tokens, lim.last = advance(lim, now), now
    if request.new_limit is not None:
        lim.limit = request.new_limit
    if request.new_burst is not None:
        lim.burst = request.new_burst
    ctx.set("state", lim)


@limiter.handler("cancelReservation", ingress_private=True)
async def cancel_reservation(ctx: ObjectContext, reservation: Reservation) -> None:
    """Its holder will not act: give its tokens back, except those that later reservations counted on."""
    lim = await load(ctx)
    now = await now_millis(ctx)
    if reservation.tokens == 0 or reservation.date_to_act < now:
        return  # it took nothing, or its time has come and gone (the tokens are spent)

    # Reservations made after this one took tokens that were only there once this one was paid for:
    # the time between this reservation's turn and the last one's is what they used up.
    restore = reservation.tokens - tokens_from_duration(reservation.limit, lim.last_event - reservation.date_to_act)
    if restore <= 0:
        return
    lim.tokens, lim.last = min(advance(lim, now) + restore, float(lim.burst)), now
    if reservation.date_to_act == lim.last_event and reservation.limit > 0:
        # It was the last reservation in line: the one before it is the last again.
        previous = reservation.date_to_act - duration_from_tokens(reservation.limit, reservation.tokens)
        if previous >= now:
            lim.last_event = previous
    ctx.set("state", lim)


async def load(ctx: ObjectContext | ObjectSharedContext) -> LimiterState:
    return await ctx.get("state", type_hint=LimiterState) or LimiterState()  # before setRate: limit 0, burst 0


async def now_millis(ctx: ObjectContext | ObjectSharedContext) -> float:
    """Unix time in milliseconds, journaled (`ctx.time()` runs `time.time()` in a `ctx.run` step)."""
    return await ctx.time() * 1000


def advance(lim: LimiterState, now: float) -> float:
    """The tokens in the bucket at `now`: those at `last` plus what has refilled since, at most `burst`."""
    elapsed = max(now - lim.last, 0.0)
    return min(lim.tokens + tokens_from_duration(lim.limit, elapsed), float(lim.burst))


def duration_from_tokens(limit: float, tokens: float) -> float:
    """How many milliseconds it takes to refill `tokens` (for ever when the limit is 0)."""
    return tokens / limit * 1000 if limit > 0 else math.inf


def tokens_from_duration(limit: float, millis: float) -> float:
    """How many tokens refill in `millis` milliseconds."""
    return millis / 1000 * limit if limit > 0 else 0.0
