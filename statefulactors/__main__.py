"""`python -m statefulactors`: serve the machine operator on SERVICE_PORT (default 9080).

`python -m statefulactors --restart-on-exit` (or RESTART_ON_EXIT=1) runs it under a supervisor that starts
it again after a crash: use it with CRASH_PROCESS=1.
"""

import argparse
import os
import sys

from patterns.serving import configure_logging, serve
from statefulactors.supervisor import supervise

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m statefulactors", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--restart-on-exit",
        action="store_true",
        default=bool(os.environ.get("RESTART_ON_EXIT")),
        help="start the service again whenever it exits with an error (for CRASH_PROCESS=1)",
    )
    if parser.parse_args().restart_on_exit:
        configure_logging()
        sys.exit(supervise())
    serve("statefulactors.app:app")
