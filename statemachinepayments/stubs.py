"""What this example makes up: the money a new account starts with, and how long a payment id is remembered."""

from datetime import timedelta
from random import Random

from patterns.chaos import Amount, Duration

INITIAL_BALANCE = Amount("statemachinepayments.initial_balance")
EXPIRY_TIMEOUT = Duration("statemachinepayments.expiry", timedelta(hours=1))


def opening_balance(rng: Random) -> int:
    """A random 100000 to 199999 cents, as upstream. Pass `ctx.random()`: a retry draws the same amount."""
    return INITIAL_BALANCE.fixed() or rng.randint(100_000, 199_999)
