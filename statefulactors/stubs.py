"""Simulated machine transitions: slow (a durable sleep, 5 s) and failing 40 % of the time, as upstream.

A failure raises an exception, or, in the crash mode of the walkthrough (CRASH_PROCESS=1, see README.md),
kills the whole process, as a real crash would.
"""

import logging
import os
import sys
from datetime import timedelta

import restate
from restate import ObjectContext

from patterns.chaos import Duration, FailurePoint

logger = restate.getLogger(__name__)
# Not replay-aware: the failure also strikes while an invocation replays its journal after a retry, and a
# crash must never go unexplained in the log.
crash_logger = logging.getLogger(__name__ + ".crash")

TRANSITION_FAILS = FailurePoint("statefulactors.transition", probability=0.4)
TRANSITION_TIME = Duration("statefulactors.transition", timedelta(seconds=5))


async def bring_up_machine(ctx: ObjectContext, machine_id: str) -> None:
    await _transition(ctx, machine_id, "UP")


async def tear_down_machine(ctx: ObjectContext, machine_id: str) -> None:
    await _transition(ctx, machine_id, "DOWN")


async def _transition(ctx: ObjectContext, machine_id: str, target: str) -> None:
    logger.info("Beginning transition of %s to %s", machine_id, target)
    # Before the sleep, so a retry starts the transition again and logs "Beginning" a second time.
    maybe_crash(ctx.request().id)
    await ctx.sleep(TRANSITION_TIME.get())
    logger.info("Done transitioning %s to %s", machine_id, target)


def maybe_crash(attempt_key: str) -> None:
    if not TRANSITION_FAILS.should_fail(attempt_key):
        return
    crash_logger.error("[👻 SIMULATED] A failure happened!")
    if os.environ.get("CRASH_PROCESS"):
        crash_logger.error("--- CRASHING THE PROCESS ---")
        logging.shutdown()  # flush the log before the process disappears
        sys.stdout.flush()
        os._exit(1)  # a real crash: no cleanup, no graceful shutdown, the connection to Restate just breaks
    raise RuntimeError("[👻 SIMULATED] A failure happened!")
