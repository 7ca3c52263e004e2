"""`python -m statefulactors --restart-on-exit`: run the service and start it again whenever it exits with
an error (upstream's `utils/restart-process.sh`), so the CRASH_PROCESS=1 walkthrough can be followed.

SIGINT and SIGTERM are passed on to the service, which stops gracefully; then the supervisor exits too.
With PATTERNS_SEED set, each restart gets its own seed (`<seed>:<restart>`), so a seeded run does not
crash the same way forever.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from patterns.process import die_with_parent

logger = logging.getLogger("statefulactors.supervisor")

RESTART_DELAY = 1.0  # seconds, as upstream's script


def supervise(module: str = "statefulactors") -> int:
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)  # by PID: only our own child

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)

    env = {key: value for key, value in os.environ.items() if key != "RESTART_ON_EXIT"}
    seed = os.environ.get("PATTERNS_SEED")
    restarts = 0
    while True:
        if seed is not None:
            env["PATTERNS_SEED"] = f"{seed}:{restarts}"
        child = subprocess.Popen([sys.executable, "-m", module], env=env, preexec_fn=die_with_parent)  # noqa: PLW1509
        logger.info("supervisor: started %s (pid %d)", module, child.pid)
        if stopping:  # a signal that arrived while the child was being started
            child.send_signal(signal.SIGTERM)
        code = child.wait()
        if stopping or code == 0:
            logger.info("supervisor: %s stopped (exit code %d)", module, code)
            return 0 if stopping else code
        restarts += 1
        logger.warning("supervisor: %s exited with code %d, restarting in %.0fs", module, code, RESTART_DELAY)
        time.sleep(RESTART_DELAY)
        if stopping:
            return 0
