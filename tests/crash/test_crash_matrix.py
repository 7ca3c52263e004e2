"""The crash matrix: every pattern with work in flight when restate-server is SIGKILLed (story B), and when
its service process is SIGKILLed (story A); each test checks that its pattern's work finished, each effect once.

Two stories for the whole module, one crash each, so that 18 patterns x 2 cases cost two crashes:

- Every pattern runs as its own `python -m <pattern>` child process (hypercorn, so that the process that
  runs the handlers is the one killed or frozen), registered with a restate-server of this module.
- Story B: each pattern gets work, and the story waits until every piece is mid-way (an observable sign: a
  log line, a journal entry, a state, an invocation status, a prepared transaction), records the status of
  every invocation in flight, SIGKILLs both restate-servers and starts them again on the same data folders
  and ports. Then it helps the work on where the pattern needs a caller (a webhook, a resolve) and waits
  until everything is done.
- Story A, the same with every service process SIGKILLed and started again (with short knobs from then on,
  so that the steps that run again are quick).

Each test first checks that its work was really in flight at the crash (no watched invocation completed
before it), then that it finished with each effect once: log lines of the service process (per story),
state and invocations (admin SQL), rows in PostgreSQL, payment intents on localstripe.

What is in flight at the crash, per pattern:
- A step, sleep or wait of the pattern: queue (the task's work, a `ctx.run`), dataupload (the upload step;
  in B also a client waiting for the URL by email), signalspayments (the awakeable waiting for Stripe's
  webhook), sagas (the charge), statefulactors and parallelizework (durable sleeps), eventtransactions (the
  moderation poll's sleep), durablepromise (an awaiter on its awakeable), priorityqueue (the expensive
  operation of two admitted callers), ratelimit (the limiter's durable sleep), database (a prepared
  transaction between PREPARE and COMMIT). In story B also the timers of statemachinepayments (the token
  expiry), schedulingtasks (the next reminder), batching (the batch) and cron (the next run).
- durablerpc, webhookcallbacks and eventenrichment (both stories), and statemachinepayments,
  schedulingtasks, batching and cron (story A) have handlers without any step that takes time: no crash can
  land inside them by timing. For those the process is frozen (SIGSTOP) before the request reaches it, so
  the invocation is open on a process that has its request and has not answered (status `running`) when
  the crash comes. In story A the frozen process is killed (its handler never ran: every log line counts
  once); in story B it is resumed once restate-server is dead, so its handler may run once more against the
  dead connection (only state and invocations are checked there).

Three service names exist twice (`myService`, `payments`, `PaymentTracker`): ratelimit,
statemachinepayments and webhookcallbacks run on a second restate-server, killed together with the first.
A step that was running when its process or server died runs again (Restate runs a step at least once until
its result is journaled, exactly once after): the tests count such a step twice where the crash interrupted
it, and once everywhere else.
"""

from __future__ import annotations

import io
import random
import re
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from patterns.catalogue import pattern_names
from patterns.chaos import parse_duration
from patterns.httpclient import http
from patterns.kafka import KafkaBroker, create_topics, subscribe
from patterns.localstripe import LocalStripe
from patterns.postgres import PostgresServer
from patterns.produce import produce
from patterns.registration import register
from tests.database.test_database import SCHEMA, credits_and_version, new_user, prepared
from tests.harness import NativeRestate, ServiceProcess, eventually, sql, state
from tests.signalspayments.test_signalspayments import event, intents, sign

# The first test sets up both stories: 18 service processes started twice and two crashes, minutes on a
# loaded machine (the suite's default timeout is per test, setup included).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

OTHER = ("ratelimit", "statemachinepayments", "webhookcallbacks")  # on the second server (shared service names)
INITIAL = 100_000

# Story B runs first, then story A. Until story A's kill every step and sleep that the crash must land in
# lasts WINDOW (on a loaded machine too: putting 18 patterns' work in flight can take 15 s there); from
# story A's restart on, the steps that run again are short.
WINDOW = "25s"
BEFORE_A = {
    "PATTERNS_DURATION_QUEUE_WORK": WINDOW,
    "PATTERNS_CHANCE_DATAUPLOAD_SLOW_UPLOAD": "1",
    "PATTERNS_DURATION_DATAUPLOAD_SLOW_UPLOAD": WINDOW,
    "PATTERNS_DURATION_SAGAS_PAYMENT": WINDOW,
    "PATTERNS_DURATION_STATEFULACTORS_TRANSITION": WINDOW,
    "PATTERNS_DURATION_PARALLELIZEWORK_SUBTASK": WINDOW,
    "PATTERNS_CHANCE_EVENTTRANSACTIONS_MODERATION_PENDING": "first:1",
    "PATTERNS_DURATION_EVENTTRANSACTIONS_MODERATION_POLL": WINDOW,
    "PATTERNS_DURATION_PRIORITYQUEUE_OPERATION": WINDOW,
    "PATTERNS_DURATION_DATABASE_PREPARED_PAUSE": WINDOW,
    "PATTERNS_DURATION_SCHEDULINGTASKS_REMINDER": "8s",  # three reminders: 24 s
    "PATTERNS_DURATION_BATCHING_MAX_BATCH_WAIT": WINDOW,
    "PATTERNS_DURATION_STATEMACHINEPAYMENTS_EXPIRY": WINDOW,
}
AFTER_A = {
    "PATTERNS_DURATION_QUEUE_WORK": "200ms",
    "PATTERNS_DURATION_DATAUPLOAD_SLOW_UPLOAD": "200ms",
    "PATTERNS_DURATION_SAGAS_PAYMENT": "0s",
    "PATTERNS_DURATION_EVENTTRANSACTIONS_MODERATION_POLL": "200ms",
    "PATTERNS_DURATION_PRIORITYQUEUE_OPERATION": "200ms",
    "PATTERNS_DURATION_DATABASE_PREPARED_PAUSE": "0s",
    "PATTERNS_DURATION_SCHEDULINGTASKS_REMINDER": "1s",
    "PATTERNS_DURATION_BATCHING_MAX_BATCH_WAIT": "1s",
    "PATTERNS_DURATION_STATEMACHINEPAYMENTS_EXPIRY": "1s",
}
COMMON = {
    "PATTERNS_SERVER": "hypercorn",  # one process runs the handlers: the one killed (or frozen)
    "PATTERNS_FAILURES": "0",  # no injected failures: every effect counted here comes from the crash
    "PATTERNS_AMOUNT_STATEMACHINEPAYMENTS_INITIAL_BALANCE": str(INITIAL),
}
BOOKING = {
    "flights": {"flightId": "12345", "passengerName": "John Doe"},
    "car": {"pickupLocation": "Airport", "rentalDate": "2024-12-16"},
    "paymentInfo": {"cardNumber": "4111111111111111", "amount": 1500},
}
SUBTASKS = 6
IN_FLIGHT = ("scheduled", "inboxed", "ready", "running", "backing-off", "suspended")


@dataclass
class World:
    servers: dict[str, NativeRestate]
    services: dict[str, ServiceProcess]
    kafka: KafkaBroker
    stripe: LocalStripe
    db: PostgresServer
    topics: dict[str, str]
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # "A:queue" -> what happened
    frozen: list[str] = field(default_factory=list)
    marks: dict[str, dict[str, int]] = field(default_factory=dict)  # case -> pattern -> first line of the story
    errors: dict[str, str] = field(default_factory=dict)  # "A:queue" -> why it did not settle

    def server(self, pattern: str) -> NativeRestate:
        return self.servers["other" if pattern in OTHER else "main"]

    def url(self, pattern: str, path: str) -> str:
        return f"{self.server(pattern).ingress_url}{path}"

    def sql(self, pattern: str, query: str) -> list[dict[str, Any]]:
        return sql(self.server(pattern).admin_url, query)

    def state(self, pattern: str, service: str, key: str) -> dict[str, Any]:
        return state(self.server(pattern).admin_url, service, key)

    def post(self, pattern: str, path: str, body: Any = None, key: str | None = None) -> httpx.Response:
        headers = {"idempotency-key": key} if key else {}
        response = http.post(self.url(pattern, path), json=body, headers=headers, timeout=60)
        assert response.status_code < 300, f"{path}: HTTP {response.status_code} {response.text}"
        return response

    def send(self, pattern: str, path: str, body: Any = None, key: str | None = None) -> str:
        """A one-way call: its invocation id."""
        invocation: str = self.post(pattern, f"{path}/send", body, key).json()["invocationId"]
        return invocation

    def attach(self, pattern: str, invocation: str) -> httpx.Response:
        return http.get(self.url(pattern, f"/restate/invocation/{invocation}/attach"), timeout=90)

    def status(self, pattern: str, invocation: str) -> str:
        rows = self.sql(pattern, f"select status from sys_invocation where id = '{invocation}'")
        return str(rows[0]["status"]) if rows else "unknown"

    def statuses(self, pattern: str, invocations: list[str]) -> dict[str, str]:
        if not invocations:
            return {}
        ids = ", ".join(f"'{invocation}'" for invocation in invocations)
        found = {
            row["id"]: row["status"]
            for row in self.sql(pattern, f"select id, status from sys_invocation where id in ({ids})")
        }
        return {invocation: str(found.get(invocation, "unknown")) for invocation in invocations}

    def journal(self, pattern: str, invocation: str) -> list[str]:
        rows = self.sql(pattern, f"select entry_type from sys_journal where id = '{invocation}' order by index")
        return [row["entry_type"] for row in rows]

    def invocations(self, pattern: str, where: str) -> list[dict[str, Any]]:
        return self.sql(
            pattern,
            "select id, target_service_name as service, target_service_key as key, target_handler_name as handler, "
            f"status, completion_result as result, invoked_by_id from sys_invocation where {where}",
        )

    def lines(self, pattern: str, case: str = "") -> list[str]:
        """The output lines of the pattern's process (all, or those of one story)."""
        lines = list(self.services[pattern].lines)
        if not case:
            return lines
        cases = list(self.marks)
        end = self.marks[cases[cases.index(case) + 1]][pattern] if cases[-1] != case else len(lines)
        return lines[self.marks[case][pattern] : end]

    def count(self, pattern: str, text: str, case: str = "") -> int:
        return sum(text in line for line in self.lines(pattern, case))

    def found(self, pattern: str, regex: str, case: str = "") -> list[re.Match[str]]:
        return [m for m in (re.search(regex, line) for line in self.lines(pattern, case)) if m]

    def freeze(self, pattern: str) -> None:
        self.services[pattern].send_signal(signal.SIGSTOP)
        self.frozen.append(pattern)

    def thaw(self) -> None:
        for pattern in self.frozen:
            self.services[pattern].send_signal(signal.SIGCONT)
        self.frozen.clear()


def step_running(world: World, pattern: str, invocation: str) -> None:
    """A `ctx.run` step of the invocation has started and has no journaled result."""
    entries = world.journal(pattern, invocation)
    assert entries.count("Command: Run") > entries.count("Notification: Run"), entries


def sleeping(world: World, pattern: str, invocation: str) -> None:
    entries = world.journal(pattern, invocation)
    assert "Command: Sleep" in entries, entries


# -- each pattern: put work in flight (begin), wait until it is mid-way (midway), help it on after the crash
# (after), wait until it is done (settle). Facts go to world.facts[f"{case}:{pattern}"].
Step = Callable[[World, str, dict[str, Any]], None]
PREPARE: dict[str, Step] = {}
SNAPSHOT: dict[str, Step] = {}  # what is in flight, found just before the crash
BEGIN: dict[str, Step] = {}
MIDWAY: dict[str, Step] = {}
AFTER: dict[str, Step] = {}
SETTLE: dict[str, Step] = {}


def step(table: dict[str, Step], pattern: str) -> Callable[[Step], Step]:
    def add(function: Step) -> Step:
        table[pattern] = function
        return function

    return add


def new(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def watched(facts: dict[str, Any], *invocations: str) -> None:
    """Invocations whose status is recorded just before the crash (each must be in flight then)."""
    facts.setdefault("watched", []).extend(invocations)


# durablerpc: product/<id>/reserve on a frozen process.
@step(BEGIN, "durablerpc")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    world.freeze("durablerpc")
    f["product"], f["reservation"] = new("product"), new("reservation")
    f["inv"] = world.send("durablerpc", f"/product/{f['product']}/reserve", key=f["reservation"])
    watched(f, f["inv"])


@step(MIDWAY, "durablerpc")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    assert world.status("durablerpc", f["inv"]) == "running"


@step(SETTLE, "durablerpc")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["result"] = world.attach("durablerpc", f["inv"]).json()
    f["retried"] = world.post("durablerpc", f"/product/{f['product']}/reserve", key=f["reservation"]).json()
    f["second"] = world.post("durablerpc", f"/product/{f['product']}/reserve", key=new("reservation")).json()


# queue: the task's heavy work runs when the crash comes.
@step(BEGIN, "queue")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["task"] = new("task")
    body = {"id": f["task"], "task": "crash test"}
    f["inv"] = world.send("queue", "/asyncTaskWorker/runTask", body, key=f["task"])
    watched(f, f["inv"])


@step(MIDWAY, "queue")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    assert world.count("queue", f"Working on task {f['task']}") == 1


@step(SETTLE, "queue")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["result"] = world.attach("queue", f["inv"]).json()


# webhookcallbacks: a Stripe event routed to its invoice's tracker, on a frozen process; then redelivered.
@step(BEGIN, "webhookcallbacks")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    world.freeze("webhookcallbacks")
    f["invoice"], f["event"] = new("in"), new("evt")
    f["body"] = {
        "id": f["event"],
        "type": "invoice.payment_failed",
        "created": 1,
        "data": {"object": {"id": f["invoice"]}},
    }
    f["inv"] = world.send("webhookcallbacks", "/WebhookCallbackRouter/onStripeEvent", f["body"], key=f["event"])
    watched(f, f["inv"])


@step(MIDWAY, "webhookcallbacks")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    assert world.status("webhookcallbacks", f["inv"]) == "running"


@step(SETTLE, "webhookcallbacks")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    assert world.attach("webhookcallbacks", f["inv"]).status_code == 200
    world.post("webhookcallbacks", "/WebhookCallbackRouter/onStripeEvent", f["body"], key=f["event"])  # redelivery

    def recorded() -> None:
        f["status"] = world.post("webhookcallbacks", f"/PaymentTracker/{f['invoice']}/getStatus").json()
        assert f["status"]["events"]

    eventually(recorded, timeout=30, interval=0.2)


# dataupload: the upload step runs when the crash comes; B: a client waits for the URL by email meanwhile.
@step(BEGIN, "dataupload")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["workflow"] = new("upload")
    f["inv"] = world.send("dataupload", f"/dataUploader/{f['workflow']}/run")
    watched(f, f["inv"])
    if case == "B":
        f["email"] = f"{f['workflow']}@example.com"
        f["email_inv"] = world.send("dataupload", f"/dataUploader/{f['workflow']}/resultAsEmail", {"email": f["email"]})
        watched(f, f["email_inv"])


@step(MIDWAY, "dataupload")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    [bucket] = world.found("dataupload", r"Creating bucket with URL (\S+)", case)
    f["bucket"] = bucket[1]
    assert world.count("dataupload", f"Uploading data to target {f['bucket']}") == 1
    if case == "B":
        assert world.count("dataupload", "client requested to be notified via email", case) == 1


@step(SETTLE, "dataupload")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["result"] = http.get(
        world.url("dataupload", f"/restate/workflow/dataUploader/{f['workflow']}/attach"), timeout=90
    ).json()
    if case == "B":
        assert world.attach("dataupload", f["email_inv"]).status_code == 200


# signalspayments: the payment waits for Stripe's webhook (an awakeable); it is delivered after the crash.
@step(BEGIN, "signalspayments")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["amount"] = random.randint(100_000, 999_999_999)
    body = {"paymentMethodId": "pm_card_visa", "amount": f["amount"], "delayedStatus": True}
    f["inv"] = world.send("signalspayments", "/payments/processPayment", body)
    watched(f, f["inv"])


@step(MIDWAY, "signalspayments")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    assert world.count("signalspayments", "still 'processing', awaiting webhook call...", case) == 1


@step(AFTER, "signalspayments")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    [intent] = intents(world.stripe, f["amount"])  # Stripe's webhook, delivered now (as Stripe retries it)
    payload = event("payment_intent.succeeded", intent)
    headers = {"content-type": "application/json", "stripe-signature": sign(payload, world.stripe.webhook_secret)}
    response = http.post(world.url("signalspayments", "/payments/processWebhook"), content=payload, headers=headers)
    assert response.status_code == 200, response.text


@step(SETTLE, "signalspayments")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["status"] = world.attach("signalspayments", f["inv"]).status_code


# sagas: the booking's charge runs when the crash comes.
@step(BEGIN, "sagas")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["trip"] = new("trip")
    f["inv"] = world.send("sagas", f"/BookingWorkflow/{f['trip']}/run", BOOKING)
    watched(f, f["inv"])


@step(MIDWAY, "sagas")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    step_running(world, "sagas", f["inv"])


@step(SETTLE, "sagas")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["result"] = http.get(
        world.url("sagas", f"/restate/workflow/BookingWorkflow/{f['trip']}/attach"), timeout=90
    ).json()


# statefulactors: a machine's transition sleeps (durably) when the crash comes.
@step(BEGIN, "statefulactors")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["machine"] = new("machine")
    f["inv"] = world.send("statefulactors", f"/machineOperator/{f['machine']}/setUp")
    watched(f, f["inv"])


@step(MIDWAY, "statefulactors")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    sleeping(world, "statefulactors", f["inv"])


@step(SETTLE, "statefulactors")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["result"] = world.attach("statefulactors", f["inv"]).json()


# statemachinepayments: A: a payment on a frozen process. B: the paid token's expiry timer.
@step(BEGIN, "statemachinepayments")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["account"], f["payment"] = new("acc"), new("pay")
    f["body"] = {"accountId": f["account"], "amount": 100}
    path = f"/payments/{f['payment']}/makePayment"
    if case == "A":
        world.freeze("statemachinepayments")
        f["inv"] = world.send("statemachinepayments", path, f["body"], key=f["payment"])
        watched(f, f["inv"])
    else:
        f["result"] = world.post("statemachinepayments", path, f["body"], key=f["payment"]).json()


def expiries(world: World, payment: str) -> list[dict[str, Any]]:
    return world.invocations(
        "statemachinepayments", f"target_handler_name = 'expireToken' and target_service_key = '{payment}'"
    )


@step(MIDWAY, "statemachinepayments")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    if case == "A":
        assert world.status("statemachinepayments", f["inv"]) == "running"
    else:
        [expiry] = expiries(world, f["payment"])
        assert expiry["status"] == "scheduled"
        if expiry["id"] not in f.get("watched", []):
            watched(f, expiry["id"])


@step(SETTLE, "statemachinepayments")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    if case == "A":
        f["result"] = world.attach("statemachinepayments", f["inv"]).json()
        f["retried"] = world.post(
            "statemachinepayments", f"/payments/{f['payment']}/makePayment", f["body"], key=f["payment"]
        ).json()
    else:
        eventually(lambda: [e["status"] for e in expiries(world, f["payment"])] == ["completed"], timeout=30)


# schedulingtasks: A: the failed payment's first handler on a frozen process. B: the next reminder's timer.
def stripe_failure(invoice: str) -> dict[str, Any]:
    return {"type": "invoice.payment_failed", "created": 1, "data": {"id": f"evt-{invoice}", "customer": "c"}}


@step(BEGIN, "schedulingtasks")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["invoice"] = new("invoice")
    if case == "A":
        world.freeze("schedulingtasks")
    f["inv"] = world.send(
        "schedulingtasks", f"/PaymentTracker/{f['invoice']}/onPaymentFailure", stripe_failure(f["invoice"])
    )
    watched(f, f["inv"])


def reminders(world: World, invoice: str) -> list[dict[str, Any]]:
    return world.invocations(
        "schedulingtasks", f"target_service_name = 'PaymentTracker' and target_service_key = '{invoice}'"
    )


@step(MIDWAY, "schedulingtasks")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    if case == "A":
        assert world.status("schedulingtasks", f["inv"]) == "running"
    else:
        assert world.status("schedulingtasks", f["inv"]) == "completed"  # the first reminder went out
        assert [r["status"] for r in reminders(world, f["invoice"])].count("scheduled") == 1


@step(SNAPSHOT, "schedulingtasks")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    if case == "B":  # the next reminder waits on its timer
        f["watched"] = [r["id"] for r in reminders(world, f["invoice"]) if r["status"] != "completed"]


@step(SETTLE, "schedulingtasks")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    eventually(lambda: world.state("schedulingtasks", "PaymentTracker", f["invoice"]).get("escalated"), timeout=40)


# parallelizework: the fan-out's subtasks sleep (durably) when the crash comes.
@step(BEGIN, "parallelizework")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["names"] = [f"{case.lower()}{i}-{uuid.uuid4().hex[:6]}" for i in range(SUBTASKS)]
    f["inv"] = world.send("parallelizework", "/worker/run", {"description": ",".join(f["names"])})
    watched(f, f["inv"])


@step(MIDWAY, "parallelizework")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    children = [r["id"] for r in world.invocations("parallelizework", f"invoked_by_id = '{f['inv']}'")]
    assert len(children) == SUBTASKS
    ids = ", ".join(f"'{child}'" for child in children)
    rows = world.sql(
        "parallelizework",
        f"select count(distinct id) as n from sys_journal where id in ({ids}) and entry_type = 'Command: Sleep'",
    )
    assert rows[0]["n"] == SUBTASKS
    f["watched"] = [f["inv"], *children]


@step(SETTLE, "parallelizework")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["result"] = world.attach("parallelizework", f["inv"]).json()


# eventtransactions: a post per user from Kafka; moderation is pending, the feed sleeps before asking again.
CREATED = r"Created post (\S+) for user (\S+) with content"


@step(BEGIN, "eventtransactions")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["users"] = [new(f"user{n}") for n in range(2)]
    lines = [f'{user}:{{"content": "crash {case}", "metadata": "public"}}' for user in f["users"]]
    assert produce(world.topics["posts"], io.StringIO("\n".join(lines)), world.kafka.bootstrap) == (2, 0)


@step(MIDWAY, "eventtransactions")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    posts = {m[2]: m[1] for m in world.found("eventtransactions", CREATED) if m[2] in f["users"]}
    assert len(posts) == 2
    for user, post in posts.items():
        assert world.count("eventtransactions", f"Content moderation for post {post} is still pending") == 1, user
    keys = ", ".join(f"'{user}'" for user in f["users"])
    rows = world.invocations(
        "eventtransactions", f"target_service_name = 'userFeed' and target_service_key in ({keys})"
    )
    assert len(rows) == 2
    f["posts"], f["watched"] = posts, [row["id"] for row in rows]


@step(SETTLE, "eventtransactions")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    def fed() -> None:
        for user, post in f["posts"].items():
            assert world.count("eventtransactions", f"Updating the user feed for user {user} with post {post}"), user

    eventually(fed, timeout=40, interval=0.2)


# eventenrichment: a location update from Kafka, delivered to a frozen process.
@step(PREPARE, "eventenrichment")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["package"] = new("package")
    world.post("eventenrichment", f"/package-tracker/{f['package']}/registerPackage", {"finalDestination": "Bridge 6"})


@step(BEGIN, "eventenrichment")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    world.freeze("eventenrichment")
    f["update"] = {"timestamp": "2024-10-10 13:00", "location": f"Pinetree Road {case}"}
    line = f'{f["package"]}:{{"timestamp": "{f["update"]["timestamp"]}", "location": "{f["update"]["location"]}"}}'
    assert produce(world.topics["locations"], [line], world.kafka.bootstrap) == (1, 0)


def updates(world: World, package: str) -> list[dict[str, Any]]:
    return world.invocations(
        "eventenrichment", f"target_handler_name = 'updateLocation' and target_service_key = '{package}'"
    )


@step(MIDWAY, "eventenrichment")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    [update] = updates(world, f["package"])
    assert update["status"] == "running"
    f["watched"] = [update["id"]]


@step(SETTLE, "eventenrichment")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    eventually(lambda: [u["status"] for u in updates(world, f["package"])] == ["completed"], timeout=30)
    f["info"] = world.post("eventenrichment", f"/package-tracker/{f['package']}/getPackageInfo").json()


# durablepromise: an awaiter waits on its awakeable; the promise is resolved after the crash.
@step(BEGIN, "durablepromise")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["promise"], f["value"] = new("prom"), {"case": case}
    f["inv"] = world.send("durablepromise", "/promise/await", {"promiseId": f["promise"]})
    watched(f, f["inv"])


@step(MIDWAY, "durablepromise")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    assert len(world.state("durablepromise", "promises", f["promise"]).get("listeners", [])) == 1


@step(AFTER, "durablepromise")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    body = {"promiseId": f["promise"], "value": f["value"]}
    f["resolved"] = world.post("durablepromise", "/promise/resolve", body, key=f["promise"]).json()


@step(SETTLE, "durablepromise")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["result"] = world.attach("durablepromise", f["inv"]).json()


# priorityqueue: two admitted callers run their expensive operation when the crash comes.
@step(BEGIN, "priorityqueue")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["calls"] = [world.send("priorityqueue", "/myService/expensiveMethod", {"left": n, "right": 1000}) for n in (1, 2)]
    watched(f, *f["calls"])


@step(MIDWAY, "priorityqueue")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    for call in f["calls"]:
        step_running(world, "priorityqueue", call)


@step(SETTLE, "priorityqueue")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["results"] = [world.attach("priorityqueue", call).json() for call in f["calls"]]
    eventually(
        lambda: world.state("priorityqueue", "queue", "myService/expensiveMethod").get("inFlight") == [], timeout=30
    )


# batching: A: an item reaches a frozen process. B: a batch of two waits on its timer.
@step(BEGIN, "batching")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["key"] = new("batch")
    f["items"] = [new("item") for _ in range(1 if case == "A" else 2)]
    if case == "A":
        world.freeze("batching")
        f["inv"] = world.send("batching", f"/batcher/{f['key']}/receive", f["items"][0])
        watched(f, f["inv"])
    else:
        for item in f["items"]:
            world.post("batching", f"/batcher/{f['key']}/receive", item)


def expires(world: World, key: str) -> list[dict[str, Any]]:
    return world.invocations(
        "batching",
        f"target_service_name = 'batcher' and target_handler_name = 'expire' and target_service_key = '{key}'",
    )


@step(MIDWAY, "batching")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    if case == "A":
        assert world.status("batching", f["inv"]) == "running"
    else:
        [expire] = expires(world, f["key"])
        assert expire["status"] == "scheduled"
        f["watched"] = [expire["id"]]


@step(SETTLE, "batching")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    eventually(lambda: world.state("batching", "batchReceiver", f["key"]).get("batches"), timeout=30)


# cron: a job runs every second. A: a run reaches a frozen process. B: the next run waits on its timer.
@step(PREPARE, "cron")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["job"], f["payload"] = new("job"), new("payload")
    request = {"cronExpression": "* * * * * *", "service": "TaskService", "method": "executeTask"}
    world.post("cron", "/CronJobInitiator/create", {**request, "payload": f["payload"], "jobId": f["job"]})


@step(BEGIN, "cron")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    eventually(lambda: world.count("cron", f"Executing task: {f['payload']}") >= 1, timeout=30)
    if case == "A":
        world.freeze("cron")


def runs(world: World, job: str) -> list[dict[str, Any]]:
    return world.invocations(
        "cron", f"target_service_name = 'CronJob' and target_handler_name = 'execute' and target_service_key = '{job}'"
    )


@step(MIDWAY, "cron")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    wanted = "running" if case == "A" else "scheduled"
    waiting = [run["id"] for run in runs(world, f["job"]) if run["status"] == wanted]
    assert len(waiting) == 1
    f["watched"] = waiting


@step(SNAPSHOT, "cron")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    if case == "B":  # the next run waits on its timer (a run per second: the one found in the midway is done)
        # Runs are due on whole seconds: read 0.3 s after one, so the next stays a timer until the crash's read.
        time.sleep((1.3 - time.time() % 1) % 1)
        f["watched"] = [run["id"] for run in runs(world, f["job"]) if run["status"] == "scheduled"]


@step(SETTLE, "cron")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    done_at_kill = sum(run["status"] == "completed" for run in runs(world, f["job"]))
    eventually(
        lambda: sum(run["status"] == "completed" for run in runs(world, f["job"])) >= done_at_kill + 3, timeout=30
    )
    world.post("cron", f"/CronJob/{f['job']}/cancel")
    eventually(lambda: all(run["status"] == "completed" for run in runs(world, f["job"])), timeout=30)
    f["runs"] = [run for run in runs(world, f["job"]) if run["result"] == "success"]


# ratelimit: the limiter makes the second caller sleep (durably) for its token.
LIMITER = "myService-expensiveMethod"


@step(PREPARE, "ratelimit")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    # A full bucket of one token (a fast refill first), then one token per WINDOW: the first call runs at once,
    # the second sleeps for its token.
    world.post("ratelimit", f"/limiter/{LIMITER}/setRate", {"newLimit": 1000, "newBurst": 1})  # full within 1 ms
    window = parse_duration(WINDOW).total_seconds()
    world.post("ratelimit", f"/limiter/{LIMITER}/setRate", {"newLimit": 1 / window, "newBurst": 1})


@step(BEGIN, "ratelimit")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    # One after the other: sent at once, either could take the one token (the other is the one that sleeps).
    first = world.send("ratelimit", "/myService/expensiveMethod")
    assert world.attach("ratelimit", first).status_code == 200
    f["calls"] = [first, world.send("ratelimit", "/myService/expensiveMethod")]
    f["watched"] = [f["calls"][1]]


@step(MIDWAY, "ratelimit")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    sleeping(world, "ratelimit", f["calls"][1])


@step(SETTLE, "ratelimit")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["results"] = [world.attach("ratelimit", call).status_code for call in f["calls"]]


# database: a two-phase commit between PREPARE and COMMIT (the prepared transaction pauses in its step).
@step(BEGIN, "database")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["user"] = new_user(world.db)
    f["inv"] = world.send("database", "/twoPhaseCommit/update", {"userId": f["user"], "addCredits": 100})
    watched(f, f["inv"])


@step(MIDWAY, "database")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    assert len(prepared(world.db)) == 1
    assert credits_and_version(world.db, f["user"]) == (1000, 0)


@step(SETTLE, "database")
def _(world: World, case: str, f: dict[str, Any]) -> None:
    f["status"] = world.attach("database", f["inv"]).status_code


# -- the stories -----------------------------------------------------------------------------------------------
# Order of the work: the sleeps with a fixed length come last, so that they are still running at the crash.
ORDER = (
    "durablerpc",
    "webhookcallbacks",
    "eventenrichment",
    "cron",
    "durablepromise",
    "signalspayments",
    "statemachinepayments",
    "schedulingtasks",
    "batching",
    "queue",
    "dataupload",
    "sagas",
    "priorityqueue",
    "database",
    "eventtransactions",
    "statefulactors",
    "parallelizework",
    "ratelimit",
)


def run_case(world: World, case: str, crash: Callable[[], None]) -> None:
    times = world.facts[f"{case}:times"] = {}
    world.marks[case] = {pattern: len(service.lines) for pattern, service in world.services.items()}
    mark = time.monotonic()

    def lap(name: str) -> None:
        nonlocal mark
        times[name], mark = round(time.monotonic() - mark, 1), time.monotonic()

    for pattern in ORDER:
        world.facts[f"{case}:{pattern}"] = {}
        if pattern in PREPARE:
            PREPARE[pattern](world, case, world.facts[f"{case}:{pattern}"])
    lap("prepare")
    for pattern in ORDER:
        BEGIN[pattern](world, case, world.facts[f"{case}:{pattern}"])
    lap("begin")
    pending, failures, deadline = list(ORDER), dict[str, str](), time.monotonic() + 45
    while pending:  # every pattern mid-way (each check once a round: none waits for another)
        for pattern in list(pending):
            try:
                MIDWAY[pattern](world, case, world.facts[f"{case}:{pattern}"])
                pending.remove(pattern)
            except (AssertionError, ValueError) as error:  # (ValueError: `[one] = rows` found none yet)
                failures[pattern] = str(error)
                watched = world.facts[f"{case}:{pattern}"].get("watched", [])
                if "completed" in world.statuses(pattern, watched).values():  # too late: it will never be mid-way
                    world.errors[f"{case}:{pattern}"] = f"completed before it was seen mid-way: {error}"
                    pending.remove(pattern)
        if pending and time.monotonic() > deadline:
            for pattern in pending:
                world.errors[f"{case}:{pattern}"] = f"not mid-way before the crash: {failures[pattern]}"
            break
        time.sleep(0.2)
    for pattern in ORDER:  # the status of what is in flight, just before the crash
        facts = world.facts[f"{case}:{pattern}"]
        if pattern in SNAPSHOT and f"{case}:{pattern}" not in world.errors:
            SNAPSHOT[pattern](world, case, facts)
        facts["at_crash"] = world.statuses(pattern, facts.get("watched", []))
    lap("midway")
    crash()
    lap("crash")
    for table in (AFTER, SETTLE):
        for pattern in ORDER:
            key = f"{case}:{pattern}"
            if pattern in table and key not in world.errors:
                try:
                    table[pattern](world, case, world.facts[key])
                except (AssertionError, httpx.HTTPError, KeyError, ValueError) as error:
                    world.errors[key] = f"{'after' if table is AFTER else 'settle'}: {type(error).__name__}: {error}"
    lap("settle")


def kill_services(world: World) -> None:
    """Story A's crash: SIGKILL every service process, then start them all again (shorter knobs)."""
    for service in world.services.values():
        service.kill()
    world.frozen.clear()
    for service in world.services.values():
        service.env.update(AFTER_A)
        service.start(wait=False)
    for service in world.services.values():
        service.wait_ready(60)


def kill_servers(world: World) -> None:
    """Story B's crash: SIGKILL both restate-servers, then start them again on the same data and ports."""
    for restate in world.servers.values():
        restate.server.kill()
    world.thaw()
    for restate in world.servers.values():
        restate.server.start(wait=False)
    for restate in world.servers.values():
        assert restate.server.process is not None
        restate.server.process.wait_ready(60)


@pytest.fixture(scope="module")
def world(
    pytestconfig: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
    restate_settings: dict[str, str],
    kafka: KafkaBroker,
    localstripe: LocalStripe,
    postgres: PostgresServer,
) -> Iterator[World]:
    if pytestconfig.getoption("--restate") == "docker":
        pytest.skip("the crash matrix kills restate-server: native backend only")
    started = time.monotonic()
    # Patient retries: invocations wait for a killed process to come back.
    settings = {**restate_settings, "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "400"}
    servers: dict[str, NativeRestate] = {}
    services: dict[str, ServiceProcess] = {}
    try:
        servers["main"] = NativeRestate(tmp_path_factory.mktemp("crash-main"), {**settings, **kafka.server_settings()})
        servers["other"] = NativeRestate(tmp_path_factory.mktemp("crash-other"), settings)
        postgres.run_sql_files([SCHEMA])
        extra = {"signalspayments": localstripe.service_env(), "database": {"DATABASE_URL": postgres.url}}
        for pattern in ORDER:
            restate = servers["other" if pattern in OTHER else "main"]
            env = {**COMMON, **BEFORE_A, **extra.get(pattern, {})}
            services[pattern] = ServiceProcess(restate, pattern, env=env, register=False).start(wait=False)
        for service in services.values():
            service.wait_ready(60)
            register(service.restate.admin_url, service.restate.deployment_url(service.port))
        topics = {"posts": new("crash-posts"), "locations": new("crash-locations")}
        create_topics(kafka.bootstrap, topics.values())
        subscribe(servers["main"].admin_url, topics["posts"], "userFeed/processPost")
        subscribe(servers["main"].admin_url, topics["locations"], "package-tracker/updateLocation")
        world = World(servers, services, kafka, localstripe, postgres, topics)
        world.facts["setup"] = {"seconds": time.monotonic() - started}
        mark = time.monotonic()
        run_case(world, "B", lambda: kill_servers(world))
        world.facts["B:story"] = {"seconds": time.monotonic() - mark}
        mark = time.monotonic()
        run_case(world, "A", lambda: kill_services(world))
        world.facts["A:story"] = {"seconds": time.monotonic() - mark}
        yield world
    finally:
        for service in services.values():
            service.send_signal(signal.SIGCONT)
            service.stop()
        for restate in servers.values():
            restate.stop()


def case_facts(world: World, case: str, pattern: str) -> dict[str, Any]:
    """This case's facts, once its work was in flight at the crash and settled after it."""
    key = f"{case}:{pattern}"
    if key in world.errors:
        pytest.fail(world.errors[key])
    facts = world.facts[key]
    assert facts["at_crash"], "nothing was watched at the crash"
    for invocation, status in facts["at_crash"].items():
        assert status in IN_FLIGHT, f"{invocation} was {status} before the crash, not in flight"
    return facts


def test_the_matrix_covers_every_pattern() -> None:
    assert sorted(ORDER) == pattern_names()  # a new pattern gets its two cases here


CASES = pytest.mark.parametrize("case", ["A", "B"], ids=["service-sigkill", "server-sigkill"])


def test_the_story_times(world: World) -> None:
    figures = {key: value for key, value in world.facts.items() if key.endswith("times") or "seconds" in value}
    print(f"\ncrash matrix times (s): {figures}")  # noqa: T201 (figures, shown with -s)
    assert set(world.errors) == set(), world.errors


@CASES
def test_durablerpc_reservation_is_made_once(world: World, case: str) -> None:
    f = case_facts(world, case, "durablerpc")
    assert f["result"] is True and f["retried"] is True  # the same answer for the same idempotency key
    assert f["second"] is False  # a new reservation finds the product taken
    assert world.state("durablerpc", "product", f["product"]) == {"reserved": True}
    if case == "A":  # the killed process never ran the handler
        assert world.count("durablerpc", f"Reserving product {f['product']}") == 1
    assert world.count("durablerpc", f"Product already reserved {f['product']}") == 1


@CASES
def test_queue_task_finishes_once(world: World, case: str) -> None:
    f = case_facts(world, case, "queue")
    assert f["result"] == f"Finished work on task: {f['task']}"
    # The work was running at the crash: it ran again (a step is at least once until journaled). Its result
    # was journaled once. (B: the first attempt may have finished in the service after restate-server died.)
    assert world.count("queue", f"Working on task {f['task']}") == 2
    assert world.count("queue", f"Finished work on task {f['task']}") in ((1,) if case == "A" else (1, 2))
    assert world.journal("queue", f["inv"]).count("Notification: Run") == 1
    [run] = world.invocations("queue", f"id = '{f['inv']}'")
    assert (run["status"], run["result"]) == ("completed", "success")


@CASES
def test_webhookcallbacks_event_is_recorded_once(world: World, case: str) -> None:
    f = case_facts(world, case, "webhookcallbacks")
    assert [event["id"] for event in f["status"]["events"]] == [f["event"]]  # once, despite the redelivery
    assert f["status"]["paid"] is False
    tracked = world.invocations(
        "webhookcallbacks", f"target_service_key = '{f['invoice']}' and target_handler_name = 'onPaymentFailure'"
    )
    assert [(t["status"], t["result"]) for t in tracked] == [("completed", "success")]
    if case == "A":
        assert world.count("webhookcallbacks", f"Routing event {f['event']}") == 1


@CASES
def test_dataupload_bucket_is_created_once_and_the_url_delivered(world: World, case: str) -> None:
    f = case_facts(world, case, "dataupload")
    assert f["result"] == f["bucket"]  # the URL of the bucket created before the crash
    assert world.count("dataupload", "Creating bucket with URL", case) == 1
    assert world.count("dataupload", f"Uploading data to target {f['bucket']}") == 2  # interrupted, run again
    if case == "B":
        assert world.count("dataupload", f"Sending email to '{f['email']}' with URL {f['bucket']}") == 1


@CASES
def test_signalspayments_one_payment_intent_and_one_webhook(world: World, case: str) -> None:
    f = case_facts(world, case, "signalspayments")
    assert f["status"] == 200
    assert len(intents(world.stripe, f["amount"])) == 1  # the Stripe call was journaled before the crash
    assert world.count("signalspayments", "Webhook call for", case) == 1
    assert world.count("signalspayments", "received!", case) == 1


@CASES
def test_sagas_booking_reserves_and_confirms_once(world: World, case: str) -> None:
    f = case_facts(world, case, "sagas")
    result, since = f["result"], case
    charged = [m[1] for m in world.found("sagas", r"Payment (\S+) processed", since)]
    # A: the charge never finished in the killed process. B: it may have finished in the service while
    # restate-server was dead (unjournaled), and ran again: with the same payment id, which the provider
    # charges once.
    assert charged == [result["paymentId"]] if case == "A" else set(charged) == {result["paymentId"]}
    for what, booking in (("Flight", result["flightBookingId"]), ("Car", result["carBookingId"])):
        assert world.count("sagas", f"{what} {booking} reserved", since) == 1
        assert world.count("sagas", f"{what} {booking} confirmed", since) == 1
    assert not world.found("sagas", r"refunded|cancelled", since)


@CASES
def test_statefulactors_transition_runs_once(world: World, case: str) -> None:
    f = case_facts(world, case, "statefulactors")
    machine = f["machine"]
    assert f["result"] == f"{machine} is now up"
    assert world.count("statefulactors", f"Beginning transition of {machine} to UP") == 1
    assert world.count("statefulactors", f"Done transitioning {machine} to UP") == 1
    assert world.state("statefulactors", "machineOperator", machine) == {"status": "UP"}


@CASES
def test_statemachinepayments_withdraws_once(world: World, case: str) -> None:
    f = case_facts(world, case, "statemachinepayments")
    payment, account = f["payment"], f["account"]
    assert f["result"] == f"{payment} successful: true"
    assert world.state("statemachinepayments", "accounts", account) == {"balance": INITIAL - 100}
    withdrawals = world.invocations(
        "statemachinepayments", f"target_service_name = 'accounts' and target_service_key = '{account}'"
    )
    assert [w["handler"] for w in withdrawals] == ["withdraw"]
    if case == "A":
        assert f["retried"] == f["result"]
    else:  # the expiry timer fired once, after the restart: the token is forgotten
        assert [(e["status"], e["result"]) for e in expiries(world, payment)] == [("completed", "success")]
        assert world.state("statemachinepayments", "payments", payment) == {}


@CASES
def test_schedulingtasks_three_reminders_then_one_escalation(world: World, case: str) -> None:
    f = case_facts(world, case, "schedulingtasks")
    invoice = f["invoice"]
    assert world.state("schedulingtasks", "PaymentTracker", invoice) == {"reminders_count": 3, "escalated": True}
    handlers = sorted((r["handler"], r["status"]) for r in reminders(world, invoice))
    assert handlers == [("onPaymentFailure", "completed")] + [("remind", "completed")] * 3
    steps = world.sql(
        "schedulingtasks",
        "select j.name from sys_journal j join sys_invocation i on j.id = i.id where j.entry_type = 'Command: Run' "
        f"and i.target_service_name = 'PaymentTracker' and i.target_service_key = '{invoice}'",
    )
    assert sorted(row["name"] for row in steps) == ["escalate"] + ["send reminder"] * 3
    assert world.count("schedulingtasks", f"Sending reminder email for event: evt-{invoice}") == 3
    assert world.count("schedulingtasks", f"Escalating to evt-{invoice} invoice") == 1


@CASES
def test_parallelizework_each_subtask_once(world: World, case: str) -> None:
    f = case_facts(world, case, "parallelizework")
    assert f["result"] == {"description": ",".join(f"{name}: DONE" for name in f["names"])}
    for name in f["names"]:
        assert world.count("parallelizework", f"Started executing subtask: {name}") == 1, name
        assert world.count("parallelizework", f"Execution subtask finished: {name}") == 1, name
    assert world.count("parallelizework", f"Aggregated result: {f['result']['description']}") == 1


@CASES
def test_eventtransactions_each_post_created_and_fed_once(world: World, case: str) -> None:
    f = case_facts(world, case, "eventtransactions")
    for user, post in f["posts"].items():
        assert len([m for m in world.found("eventtransactions", CREATED) if m[2] == user]) == 1, user
        assert world.count("eventtransactions", f"Updating the user feed for user {user}") == 1, user
        assert world.count("eventtransactions", f"Updating the user feed for user {user} with post {post}") == 1
    keys = ", ".join(f"'{user}'" for user in f["users"])
    rows = world.invocations("eventtransactions", f"target_service_key in ({keys})")
    assert [(row["status"], row["result"]) for row in rows] == [("completed", "success")] * 2


@CASES
def test_eventenrichment_location_is_added_once(world: World, case: str) -> None:
    f = case_facts(world, case, "eventenrichment")
    assert f["info"] == {"finalDestination": "Bridge 6", "locations": [f["update"]]}
    assert [(u["status"], u["result"]) for u in updates(world, f["package"])] == [("completed", "success")]


@CASES
def test_durablepromise_awaiter_gets_the_value_once(world: World, case: str) -> None:
    f = case_facts(world, case, "durablepromise")
    assert f["resolved"] == f["result"] == {"value": f["value"]}
    assert world.count("durablepromise", f"Promise {f['promise']} completed") == 1
    rows = world.invocations(
        "durablepromise", f"target_service_name = 'promises' and target_service_key = '{f['promise']}'"
    )
    assert sorted(row["handler"] for row in rows) == ["await", "resolve"]  # one listener, registered once
    assert world.state("durablepromise", "promises", f["promise"]) == {"value": {"value": f["value"]}}


@CASES
def test_priorityqueue_each_caller_admitted_and_released_once(world: World, case: str) -> None:
    f = case_facts(world, case, "priorityqueue")
    assert f["results"] == [1001, 1002]
    for call in f["calls"]:
        sent = world.invocations("priorityqueue", f"invoked_by_id = '{call}'")
        assert sorted(row["handler"] for row in sent) == ["done", "push"], call
    assert world.state("priorityqueue", "queue", "myService/expensiveMethod") == {"items": [], "inFlight": []}


@CASES
def test_batching_items_delivered_in_one_batch_once(world: World, case: str) -> None:
    f = case_facts(world, case, "batching")
    assert world.state("batching", "batchReceiver", f["key"]) == {"batches": [f["items"]]}
    assert len([line for line in world.lines("batching") if "Received batch" in line and f["items"][0] in line]) == 1
    assert [(e["status"], e["result"]) for e in expires(world, f["key"])] == [("completed", "success")]


@CASES
def test_cron_each_run_sends_its_task_once(world: World, case: str) -> None:
    f = case_facts(world, case, "cron")
    done = f["runs"]
    assert len(done) >= 4  # before the crash, the one in flight, and at least two more after it
    ids = ", ".join(f"'{run['id']}'" for run in done)
    tasks = world.invocations("cron", f"target_service_name = 'TaskService' and invoked_by_id in ({ids})")
    assert sorted(task["invoked_by_id"] for task in tasks) == sorted(run["id"] for run in done)  # one task each
    assert {(task["service"], task["handler"]) for task in tasks} == {("TaskService", "executeTask")}
    assert world.count("cron", f"Executing task: {f['payload']}") == len(done)


@CASES
def test_ratelimit_each_call_reserves_once_and_runs_once(world: World, case: str) -> None:
    f = case_facts(world, case, "ratelimit")
    assert f["results"] == [200, 200]
    assert world.count("ratelimit", "expensive!", case) == 2
    for call in f["calls"]:
        reserved = world.invocations("ratelimit", f"invoked_by_id = '{call}'")
        assert [row["handler"] for row in reserved] == ["reserve"], call


@CASES
def test_database_two_phase_commit_adds_the_credits_once(world: World, case: str) -> None:
    f = case_facts(world, case, "database")
    assert f["status"] == 200
    assert credits_and_version(world.db, f["user"]) == (1100, 0)
    assert prepared(world.db) == []
    assert world.count("database", "prepared by an earlier attempt", case) == 1
