"""The benchmark's app with the change BENCH_CANDIDATE names (bench/candidates.py): imported where the
handlers run (granian's worker), after the serving process has set up logging."""

import os

from bench.candidates import prepared

app = prepared(os.environ.get("BENCH_CANDIDATE", ""))
