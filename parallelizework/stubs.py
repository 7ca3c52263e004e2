"""How long a subtask takes: a random 0 to 4 seconds, as upstream."""

from datetime import timedelta
from random import Random

from patterns.chaos import Duration

SUBTASK_TIME = Duration("parallelizework.subtask", timedelta(seconds=4))


def subtask_time(rng: Random) -> timedelta:
    """Pass `ctx.random()`: a retry draws the same duration."""
    return SUBTASK_TIME.get(timedelta(seconds=rng.randint(0, 4)))
