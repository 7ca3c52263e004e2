"""database: every handler against a real PostgreSQL, each effect checked with SQL in the database itself.

The headline guarantees: `updateConditional`, `idempotency/update` and `twoPhaseCommit/update` add their
credits exactly once when the attempt fails right after the database work and Restate retries it, while
`keyed/update` adds them twice (the at-least-once hazard its comment describes). Two-phase commit stays
exactly once when the service is SIGKILLed, or restate-server restarted, between PREPARE and COMMIT, and
leaves no prepared transaction behind.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from database.app import app
from patterns import REPO_ROOT
from patterns.httpclient import http
from patterns.postgres import PostgresServer
from tests.harness import Deployment, Logs, NativeRestate, RestateBackend, ServiceProcess, deployed, eventually
from tests.readme import DevStack, output_blocks

SCHEMA = REPO_ROOT / "database" / "db" / "init.sql"
FAIL_AFTER_WRITE = "PATTERNS_FAILURES_DATABASE_AFTER_WRITE"
FAIL_AFTER_PREPARE = "PATTERNS_FAILURES_DATABASE_AFTER_PREPARE"
PREPARED_PAUSE = "PATTERNS_DURATION_DATABASE_PREPARED_PAUSE"
SIMULATED = "[👻 SIMULATED] A failure right after"


@pytest.fixture(scope="module")
def db(postgres: PostgresServer) -> PostgresServer:
    postgres.run_sql_files([SCHEMA])
    return postgres


@pytest.fixture(scope="module")
def deployment(restate: RestateBackend, db: PostgresServer) -> Iterator[Deployment]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", db.url)
        with deployed(restate, app) as deployment:
            yield deployment


def query(db: PostgresServer, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with db.connect() as conn:
        return conn.execute(statement.encode(), params).fetchall()


def new_user(db: PostgresServer, credits: int = 1000) -> str:
    user = f"user-{uuid.uuid4().hex[:10]}"
    query(db, "INSERT INTO users VALUES (%s, 'Test', 'Somewhere', %s, 0) RETURNING 1", (user, credits))
    return user


def credits_and_version(db: PostgresServer, user: str) -> tuple[Decimal, Decimal]:
    [(credits, version)] = query(db, "SELECT credits, version FROM users WHERE userid = %s", (user,))
    return credits, version


def prepared(db: PostgresServer) -> list[str]:
    return [gid for (gid,) in query(db, "SELECT gid FROM pg_prepared_xacts")]


def keys(db: PostgresServer) -> int:
    [(count,)] = query(db, "SELECT count(*) FROM user_idempotency")
    return int(count)


def call(deployment: Deployment | NativeRestate, path: str, body: Any) -> httpx.Response:
    return http.post(f"{deployment.ingress_url}/{path}", json=body, timeout=60)


def test_simple_reads_and_writes_rows_as_any_service_would(deployment: Deployment, db: PostgresServer) -> None:
    user = new_user(db)
    row = {"userid": user, "name": "Test", "address": "Somewhere", "credits": 1000, "version": 0}
    assert call(deployment, "simple/read", user).json() == row
    assert call(deployment, "simple/durableRead", user).json() == 1000
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    assert call(deployment, "simple/read", missing).json() == "(row not found)"
    assert call(deployment, "simple/durableRead", missing).content == b""  # no row, no credits

    new = {"userId": f"new-{uuid.uuid4().hex[:8]}", "name": "Emm", "address": "Paris", "credits": 1337}
    assert call(deployment, "simple/insert", new).json() is True
    assert call(deployment, "simple/insert", {**new, "name": "Other"}).json() is False  # the primary key says no
    assert query(db, "SELECT name, address, credits, version FROM users WHERE userid = %s", (new["userId"],)) == [
        ("Emm", "Paris", 1337, 0)
    ]

    assert call(deployment, "simple/update", {"userId": user, "newName": "Donald"}).json() is True
    assert query(db, "SELECT name FROM users WHERE userid = %s", (user,)) == [("Donald",)]
    assert call(deployment, "simple/update", {"userId": missing, "newName": "Nobody"}).json() is False


def test_durable_read_of_an_empty_account_takes_the_alert_branch(
    deployment: Deployment, db: PostgresServer, logs: Logs
) -> None:
    assert call(deployment, "simple/durableRead", new_user(db, credits=0)).json() == 0
    assert logs.count("Found an account without balance, doing something about it...") == 1


def test_keyed_updates_and_the_shared_read(deployment: Deployment, db: PostgresServer) -> None:
    user = new_user(db)
    assert call(deployment, f"keyed/{user}/update", 12).status_code == 200
    assert credits_and_version(db, user) == (1012, 0)
    assert call(deployment, f"keyed/{user}/updateConditional", 12).status_code == 200
    assert credits_and_version(db, user) == (1024, 1)  # the version moved on with the update
    read = http.post(f"{deployment.ingress_url}/keyed/{user}/read", timeout=30).json()
    assert read == {"userid": user, "name": "Test", "address": "Somewhere", "credits": 1024, "version": 1}


@pytest.mark.parametrize(
    ("path", "body", "added", "version"),
    [
        ("keyed/{user}/update", 12, 24, 0),  # the at-least-once hazard: the retry adds the credits again
        ("keyed/{user}/updateConditional", 12, 12, 1),
        ("idempotency/update", {"userId": "{user}", "addCredits": 100}, 100, 0),
        ("twoPhaseCommit/update", {"userId": "{user}", "addCredits": 100}, 100, 0),
    ],
)
def test_a_failure_right_after_the_write_is_retried(
    deployment: Deployment,
    db: PostgresServer,
    logs: Logs,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    body: Any,
    added: int,
    version: int,
) -> None:
    monkeypatch.setenv(FAIL_AFTER_WRITE, "first:1")
    user, keys_before = new_user(db), keys(db)
    if isinstance(body, dict):
        body = {**body, "userId": user}
    assert call(deployment, path.format(user=user), body).status_code == 200

    assert len(logs.containing(SIMULATED)) == 1  # the first attempt wrote, then failed; Restate retried
    assert credits_and_version(db, user) == (1000 + added, version)
    assert keys(db) == keys_before + path.startswith("idempotency")
    assert prepared(db) == []
    if path.startswith("keyed/{user}/updateConditional"):
        assert logs.count("Update was not applied - version no longer matches.") == 1
    if path.startswith("twoPhaseCommit"):
        assert len(logs.containing("was committed by an earlier attempt")) == 1  # COMMIT PREPARED said 42704


def test_a_transaction_prepared_by_a_failed_attempt_is_rolled_back(
    deployment: Deployment, db: PostgresServer, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAIL_AFTER_PREPARE, "first:1")  # fails after PREPARE TRANSACTION, before the journal
    user = new_user(db)
    assert call(deployment, "twoPhaseCommit/update", {"userId": user, "addCredits": 100}).status_code == 200
    assert len(logs.containing(SIMULATED)) == 1
    assert len(logs.containing("prepared by an earlier attempt")) == 1  # the retry rolled the leftover back
    assert credits_and_version(db, user) == (1100, 0)
    assert prepared(db) == []


def test_idempotency_keys_are_deleted_after_the_expiry(
    deployment: Deployment, db: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATTERNS_DURATION_DATABASE_IDEMPOTENCY_KEY_EXPIRY", "1s")
    before = keys(db)
    assert call(deployment, "idempotency/update", {"userId": new_user(db), "addCredits": 5}).status_code == 200
    assert keys(db) == before + 1
    eventually(lambda: keys(db) == before, timeout=15)  # a delayed call to expireIdempotencyKey
    response = call(deployment, "idempotency/expireIdempotencyKey", "any")
    assert response.status_code == 400 and "not public" in response.json()["message"]  # ingress-private


@pytest.mark.slow
async def test_200_concurrent_updates_add_exactly_their_sum(deployment: Deployment, db: PostgresServer) -> None:
    users = [new_user(db), new_user(db)]
    rng = random.Random(15)
    plan = [
        (rng.choice(["twoPhaseCommit/update", "idempotency/update"]), rng.choice(users), rng.randint(1, 100))
        for _ in range(200)
    ]
    keys_before = keys(db)

    started = time.monotonic()
    async with httpx.AsyncClient(timeout=180, limits=httpx.Limits(max_connections=200)) as http:
        responses = await asyncio.gather(
            *(
                http.post(f"{deployment.ingress_url}/{path}", json={"userId": user, "addCredits": amount})
                for path, user, amount in plan
            )
        )
    print(f"\n200 concurrent credit updates over 2 users: {time.monotonic() - started:.1f}s")  # noqa: T201
    assert [response.status_code for response in responses] == [200] * len(plan)
    for user in users:
        added = sum(amount for _, who, amount in plan if who == user)
        assert credits_and_version(db, user) == (1000 + added, 0), user
    assert keys(db) == keys_before + sum(path == "idempotency/update" for path, _, _ in plan)
    assert prepared(db) == []


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("simple/insert", {"userId": "{new}", "address": "x", "credits": 1}, 400, "Unable to parse an input argument."),
        ("simple/insert", {"userId": "{new}", "name": "x", "address": "x", "credits": "lots"}, 400, "Unable to parse"),
        ("simple/insert", {"userId": "x" * 256, "name": "x", "address": "x", "credits": 1}, 400, "Unable to parse"),
        ("simple/insert", {"userId": "{new}", "name": "nul\u0000", "address": "x", "credits": 1}, 400, "Invalid data"),
        ("simple/update", {"userId": "{user}"}, 400, "Unable to parse an input argument."),
        ("simple/read", 42, 400, "Unable to parse an input argument. Input should be a valid string"),
        ("keyed/{user}/update", 1.5, 400, "Unable to parse an input argument. Input should be a valid integer"),
        (
            "keyed/{user}/updateConditional",
            "12",
            400,
            "Unable to parse an input argument. Input should be a valid integer",
        ),
        ("keyed/{new}/updateConditional", 12, 404, "No user with userid"),
        ("idempotency/update", {"userId": "{user}", "addCredits": "100"}, 400, "Unable to parse"),
        ("idempotency/update", {"userId": "{new}", "addCredits": 100}, 404, "No user with userid"),
        ("twoPhaseCommit/update", {"addCredits": 100}, 400, "Unable to parse an input argument."),
        ("twoPhaseCommit/update", {"userId": "{new}", "addCredits": 100}, 404, "No user with userid"),
    ],
)
def test_bad_input_gets_a_4xx_and_writes_nothing(
    deployment: Deployment, db: PostgresServer, path: str, body: Any, status: int, message: str
) -> None:
    user, new = new_user(db), f"new-{uuid.uuid4().hex[:8]}"
    if isinstance(body, dict):
        body = {key: value.format(user=user, new=new) if key == "userId" else value for key, value in body.items()}
    tables_before = query(db, "SELECT * FROM users ORDER BY userid"), keys(db)

    response = call(deployment, path.format(user=user, new=new), body)

    assert response.status_code == status
    assert message in response.json()["message"]
    assert (query(db, "SELECT * FROM users ORDER BY userid"), keys(db)) == tables_before
    assert prepared(db) == []


def test_sql_in_user_input_is_stored_as_text(deployment: Deployment, db: PostgresServer) -> None:
    user = f"x'); DROP TABLE users; -- {uuid.uuid4().hex[:6]}"
    name = "Robert'); DELETE FROM users WHERE ('1' = '1"
    body = {"userId": user, "name": name, "address": "' OR 1=1 --", "credits": 5}
    assert call(deployment, "simple/insert", body).json() is True
    assert call(deployment, f"keyed/{quote(user, safe='')}/updateConditional", 1).status_code == 200

    assert query(db, "SELECT name, address, credits FROM users WHERE userid = %s", (user,)) == [
        (name, "' OR 1=1 --", 6)
    ]
    assert call(deployment, "simple/read", user).json()["name"] == name
    assert query(db, "SELECT count(*) > 2 FROM users") == [(True,)]  # the table and its rows are still there


# -- crashes between PREPARE and COMMIT ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory, restate_settings: dict[str, str]) -> Iterator[NativeRestate]:
    """A server of this module that keeps retrying while the service is down (the session's gives up in ~2 s)."""
    settings = {**restate_settings, "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "200"}
    server = NativeRestate(tmp_path_factory.mktemp("restate-patient"), settings)
    try:
        yield server
    finally:
        server.stop()


def send_2pc_update(server: NativeRestate, user: str, amount: int) -> str:
    response = http.post(
        f"{server.ingress_url}/twoPhaseCommit/update/send", json={"userId": user, "addCredits": amount}, timeout=30
    )
    invocation: str = response.json()["invocationId"]
    return invocation


def wait_for_output(server: NativeRestate, invocation: str) -> httpx.Response:
    return http.get(f"{server.ingress_url}/restate/invocation/{invocation}/attach", timeout=60)


@pytest.mark.slow
def test_sigkill_between_prepare_and_commit_adds_the_credits_once(patient: NativeRestate, db: PostgresServer) -> None:
    user = new_user(db)
    env = {"DATABASE_URL": db.url, PREPARED_PAUSE: "60s"}  # the first attempt stops after PREPARE TRANSACTION
    with ServiceProcess(patient, "database", env=env) as service:
        invocation = send_2pc_update(patient, user, 100)
        eventually(lambda: len(prepared(db)) == 1, timeout=30)
        service.kill()  # SIGKILL: the step's result never reaches the journal
        assert len(prepared(db)) == 1 and credits_and_version(db, user) == (1000, 0)  # prepared, not committed

        service.env[PREPARED_PAUSE] = "0s"
        service.restart()
        assert wait_for_output(patient, invocation).status_code == 200
        assert service.count("prepared by an earlier attempt") == 1
    assert credits_and_version(db, user) == (1100, 0)
    assert prepared(db) == []


@pytest.mark.slow
def test_restate_server_restart_between_prepare_and_commit_adds_the_credits_once(
    patient: NativeRestate, db: PostgresServer, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = new_user(db)
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv(PREPARED_PAUSE, "60s")
    with deployed(patient, app):
        invocation = send_2pc_update(patient, user, 100)
        eventually(lambda: len(prepared(db)) == 1, timeout=30)
        monkeypatch.setenv(PREPARED_PAUSE, "0s")
        patient.restart(kill=True)  # SIGKILL restate-server mid-step, start it again on the same data
        assert wait_for_output(patient, invocation).status_code == 200
    assert len(logs.containing("prepared by an earlier attempt")) == 1
    assert credits_and_version(db, user) == (1100, 0)
    assert prepared(db) == []


# -- the README, run as a reader would ---------------------------------------------------------------------------
@pytest.mark.slow  # the normal pass only: the walkthrough's dev stack is the same in both passes
def test_readme_walkthrough(dev_stack: DevStack) -> None:
    assert any(line.strip() == "database/db/init.sql -> database exampledb" for line in dev_stack.lines)
    readme = REPO_ROOT / "database" / "README.md"
    assert dev_stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows
    db = PostgresServer(dev_stack.env["DATABASE_URL"])
    # Each curl line's effect, in the database: A renamed, +100 (idempotency) +100 (2PC); B +12 twice (the
    # conditional update moved its version) and +5 once (two calls, one Restate idempotency key); C inserted;
    # one idempotency key in the table; nothing left prepared.
    assert query(db, "SELECT * FROM users ORDER BY userid") == [
        ("A", "Donald", "1600 Pennsylvania Avenue NW, Washington, DC 20500, USA", 1200, 0),
        ("B", "Keir", "10 Downing St, London SW1A 2AB, UK", 1029, 1),
        ("C", "Emm", "55, Rue du Faubourg Saint-Honoré, 75008 Paris, France", 1337, 0),
    ]
    assert keys(db) == 1
    assert prepared(db) == []
