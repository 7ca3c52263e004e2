"""`python -m bench.serve_python`: the Python benchmark services, served as every pattern is.

BENCH_CANDIDATE (set by `python -m bench --candidates`) names a change to measure (bench/candidates.py):
its serving options are set here, the rest when granian's worker imports `bench.candidate_app:app`.
"""

import os

from bench.candidates import configure_serving
from patterns.serving import serve

if __name__ == "__main__":
    candidate = os.environ.get("BENCH_CANDIDATE", "")
    configure_serving(candidate)
    serve("bench.candidate_app:app" if candidate else "bench.services:app")
