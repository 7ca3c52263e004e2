"""The batching limits: upstream's values, and the wait as a duration knob (patterns.chaos)."""

from datetime import timedelta

from patterns.chaos import delay

MAX_BATCH = 10


def max_batch_wait() -> timedelta:
    """How long an undersized batch waits at most: 1 s, as upstream.

    PATTERNS_DURATION_BATCHING_MAX_BATCH_WAIT=10s (or PATTERNS_TIME_SCALE) changes it without editing code."""
    return delay("batching.max_batch_wait", timedelta(seconds=1))
