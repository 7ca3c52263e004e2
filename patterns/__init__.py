"""Shared tooling for the Restate patterns: settings, serving, child processes, the native restate-server
launcher, registration, failure/duration knobs and the ``python -m patterns`` dev runner.

Nothing in here is domain code: every pattern folder stays readable on its own.
"""

from pathlib import Path

# Where `python -m <pattern>` runs from (the `queue` pattern needs it), and where node_modules/ and .venv/ are.
REPO_ROOT = Path(__file__).resolve().parent.parent
