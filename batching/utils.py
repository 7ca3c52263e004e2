"""The batching limits, as upstream: at most 10 items per batch, and an undersized batch waits at most 1 s."""

from datetime import timedelta

from patterns.chaos import Duration

MAX_BATCH = 10
MAX_BATCH_WAIT = Duration("batching.max_batch_wait", timedelta(seconds=1))
