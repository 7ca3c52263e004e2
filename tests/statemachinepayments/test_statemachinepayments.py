"""statemachinepayments: a payment is charged at most once, a cancel refunds or prevents it, ids expire."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from patterns import REPO_ROOT
from patterns.httpclient import http
from tests.harness import Deploy, Deployment, eventually, sql, unique
from tests.readme import DevStack, output_blocks

INITIAL = 100_000


@pytest.fixture(scope="module")
def deployment(deploy: Deploy) -> Deployment:
    return deploy(
        "statemachinepayments.app:app", env={"PATTERNS_AMOUNT_STATEMACHINEPAYMENTS_INITIAL_BALANCE": str(INITIAL)}
    )


def make(
    deployment: Deployment, payment: str, account: str, amount: Any, http: httpx.Client | None = None
) -> httpx.Response:
    body = {"accountId": account, "amount": amount}
    return (http or httpx).post(f"{deployment.ingress_url}/payments/{payment}/makePayment", json=body, timeout=60)


def cancel(deployment: Deployment, payment: str, http: httpx.Client | None = None) -> httpx.Response:
    return (http or httpx).post(f"{deployment.ingress_url}/payments/{payment}/cancelPayment", timeout=60)


def balance(deployment: Deployment, account: str) -> int | None:
    value: int | None = deployment.state("accounts", account).get("balance")
    return value


def pending(admin_url: str, service: str, keys: list[str]) -> int:
    """Invocations of `service` on `keys` not completed yet (scheduled expiries excluded)."""
    quoted = ", ".join(f"'{key}'" for key in keys)
    rows = sql(
        admin_url,
        f"select count(*) as n from sys_invocation where target_service_name = '{service}' "
        f"and target_service_key in ({quoted}) and status not in ('completed', 'scheduled')",
    )
    return int(rows[0]["n"])


def test_make_charges_once_and_cancel_refunds(deployment: Deployment) -> None:
    payment, account = unique("pay"), unique("acc")

    assert make(deployment, payment, account, 100).json() == f"{payment} successful: true"
    assert balance(deployment, account) == INITIAL - 100
    assert deployment.state("payments", payment) == {
        "status": "COMPLETED",
        "payment": {"accountId": account, "amount": 100},
    }

    assert make(deployment, payment, account, 100).json() == f"{payment} previously completed"
    assert balance(deployment, account) == INITIAL - 100  # no second withdrawal

    assert cancel(deployment, payment).status_code == 200
    assert deployment.state("payments", payment)["status"] == "CANCELLED"
    eventually(lambda: balance(deployment, account) == INITIAL, timeout=15)  # the refund is a one-way call

    assert make(deployment, payment, account, 100).json() == f"{payment} was cancelled before"
    assert cancel(deployment, payment).status_code == 200  # cancelling twice refunds once
    eventually(lambda: pending(deployment.admin_url, "accounts", [account]) == 0, timeout=15)
    assert balance(deployment, account) == INITIAL


def test_a_cancel_that_overtakes_the_payment_prevents_it(deployment: Deployment) -> None:
    payment, account = unique("pay"), unique("acc")

    assert cancel(deployment, payment).status_code == 200
    assert deployment.state("payments", payment) == {"status": "CANCELLED"}
    assert make(deployment, payment, account, 100).json() == f"{payment} was cancelled before"
    assert deployment.state("accounts", account) == {}  # never touched


def test_insufficient_funds_is_not_a_payment(deployment: Deployment) -> None:
    payment, account = unique("pay"), unique("acc")
    assert make(deployment, payment, account, INITIAL + 1).json() == f"{payment} successful: false"
    assert deployment.state("payments", payment) == {}
    assert balance(deployment, account) == INITIAL


@pytest.mark.slow
def test_payment_ids_are_forgotten_after_the_expiry(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATTERNS_DURATION_STATEMACHINEPAYMENTS_EXPIRY", "3s")  # time to see both first
    made, cancelled, account = unique("pay"), unique("pay"), unique("acc")
    assert make(deployment, made, account, 100).json() == f"{made} successful: true"
    assert cancel(deployment, cancelled).status_code == 200
    assert deployment.state("payments", made) != {} and deployment.state("payments", cancelled) != {}

    eventually(
        lambda: deployment.state("payments", made) == {} and deployment.state("payments", cancelled) == {}, timeout=20
    )
    assert balance(deployment, account) == INITIAL - 100  # expiry forgets the token, the payment stays made


def test_initial_balance_is_drawn_deterministically(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATTERNS_AMOUNT_STATEMACHINEPAYMENTS_INITIAL_BALANCE")
    payment, account = unique("pay"), unique("acc")
    assert make(deployment, payment, account, 1).json() == f"{payment} successful: true"
    after = balance(deployment, account)
    assert after is not None and 100_000 - 1 <= after <= 199_999 - 1


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("payments/{p}/makePayment", {"accountId": "{a}", "amount": -5}, "Unable to parse an input argument."),
        ("payments/{p}/makePayment", {"accountId": "{a}", "amount": 0}, "Unable to parse an input argument."),
        ("payments/{p}/makePayment", {"amount": 5}, "Unable to parse an input argument."),
        ("payments/{p}/makePayment", {"accountId": "{a}", "amount": "lots"}, "Unable to parse an input argument."),
        ("payments/{p}/makePayment", {"accountId": "{a}", "amount": 1.5}, "Unable to parse an input argument."),
        ("payments/{p}/makePayment", {"accountId": "", "amount": 5}, "Unable to parse an input argument."),
        ("accounts/{a}/withdraw", 5, "the invoked service is not public"),  # only payments moves money
        ("accounts/{a}/deposit", 5, "the invoked service is not public"),
        ("payments/{p}/expireToken", None, "the invoked service is not public"),
    ],
)
def test_bad_input_gets_a_400_and_changes_nothing(deployment: Deployment, path: str, body: Any, message: str) -> None:
    payment, account = unique("pay"), unique("acc")
    if isinstance(body, dict):
        body = {k: v.format(a=account) if isinstance(v, str) else v for k, v in body.items()}
    response = http.post(f"{deployment.ingress_url}/{path.format(p=payment, a=account)}", json=body, timeout=30)
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert deployment.state("payments", payment) == {} and deployment.state("accounts", account) == {}


@dataclass(frozen=True)
class Storm:
    """A storm of payments and cancellations on 20 payment ids over 5 accounts, in a fixed random order."""

    requests: list[tuple[str, str]]  # (payment id, "make" or "cancel")
    account_of: dict[str, str]
    amount_of: dict[str, int]
    make_only: set[str]  # these must end COMPLETED; the others get a mix of makes and cancels
    prefix: str

    @classmethod
    def plan(cls, size: int) -> Storm:
        prefix = unique("storm")
        payments = [f"{prefix}-p{i}" for i in range(20)]
        accounts = [f"{prefix}-a{i}" for i in range(5)]
        rng = random.Random(7)
        make_only = set(payments[:5])
        requests = []
        for _ in range(size):
            p = rng.choice(payments)
            requests.append((p, "make" if p in make_only or rng.random() < 0.65 else "cancel"))
        account_of = {p: accounts[i % 5] for i, p in enumerate(payments)}
        amount_of = {p: 100 * (i + 1) for i, p in enumerate(payments)}
        return cls(requests, account_of, amount_of, make_only, prefix)

    @property
    def payments(self) -> list[str]:
        return list(self.account_of)

    @property
    def accounts(self) -> list[str]:
        return sorted(set(self.account_of.values()))

    def states(self, admin_url: str, service: str) -> dict[str, dict[str, Any]]:
        """The state of every object of `service` in this storm, by key (one query)."""
        rows = sql(
            admin_url,
            "select service_key, key, value_utf8 from state "
            f"where service_name = '{service}' and service_key like '{self.prefix}-%'",
        )
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            found.setdefault(row["service_key"], {})[row["key"]] = json.loads(row["value_utf8"])
        return found

    def check(self, admin_url: str) -> Counter[str | None]:
        """Once everything settled: every account lost exactly the payments that ended COMPLETED, each payment
        was charged at most once, cancelled ones were never charged or refunded. Returns the final statuses."""
        eventually(lambda: pending(admin_url, "accounts", self.accounts) == 0, 30)
        eventually(lambda: pending(admin_url, "payments", self.payments) == 0, 30)
        payments, accounts = self.states(admin_url, "payments"), self.states(admin_url, "accounts")
        final = {p: payments.get(p, {}) for p in self.payments}
        for account in self.accounts:
            completed = sum(
                self.amount_of[p]
                for p in self.payments
                if self.account_of[p] == account and final[p].get("status") == "COMPLETED"
            )
            assert (accounts.get(account, {}).get("balance") or INITIAL) == INITIAL - completed, account

        # COMPLETED = charged and not refunded; CANCELLED = never charged, or refunded.
        calls = Counter(
            (row["invoked_by_target"].split("/")[1], row["target_handler_name"])
            for row in sql(
                admin_url,
                "select invoked_by_target, target_handler_name from sys_invocation "
                f"where target_service_name = 'accounts' and target_service_key like '{self.prefix}-%'",
            )
        )
        for p in self.payments:
            charged, refunded = calls[(p, "withdraw")], calls[(p, "deposit")]
            assert charged <= 1 and refunded <= charged, (p, charged, refunded)
            status = final[p].get("status")
            assert status in ("COMPLETED", "CANCELLED"), (p, final[p])
            assert (charged - refunded == 1) == (status == "COMPLETED"), (p, status, charged, refunded)
        outcomes = Counter(values.get("status") for values in final.values())
        assert all(final[p]["status"] == "COMPLETED" for p in self.make_only) and outcomes["CANCELLED"] > 0
        assert sum(calls[(p, "deposit")] for p in self.payments) > 0  # some cancels came after the charge
        return outcomes


def test_storm_of_concurrent_payments_and_cancellations_stays_consistent(deployment: Deployment) -> None:
    storm = Storm.plan(600)
    threads = 24
    slices = [storm.requests[i::threads] for i in range(threads)]

    def worker(requests: list[tuple[str, str]]) -> list[int]:
        with httpx.Client(timeout=60) as http:  # one client per thread: a shared client is the bottleneck
            return [
                (
                    make(deployment, p, storm.account_of[p], storm.amount_of[p], http)
                    if op == "make"
                    else cancel(deployment, p, http)
                ).status_code
                for p, op in requests
            ]

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        statuses = [code for codes in pool.map(worker, slices) for code in codes]
    wall = time.monotonic() - started
    print(f"\nstorm: {len(storm.requests)} requests, {threads} threads, {wall:.1f}s")  # noqa: T201 (shown with -s)
    assert statuses == [200] * len(storm.requests)
    print(f"storm: final statuses {dict(storm.check(deployment.admin_url))}")  # noqa: T201


@pytest.mark.slow
def test_readme_walkthrough(dev_stack: DevStack) -> None:
    readme = REPO_ROOT / "statemachinepayments" / "README.md"
    assert dev_stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows
