"""Per pattern: forged awakeable ids, unknown ids on internal handlers, and private handlers through the ingress.

Internal handlers are reached through the relay (from inside Restate, as another handler would call them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from patterns.wire import is_awakeable_id
from tests.harness import NativeRestate, eventually
from tests.hostile.conftest import fresh_key, relay_call, served, settled, state
from tests.hostile.relay import RELAY


def awakeable_id(raw: bytes) -> str:
    return "sign_1" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


FOREIGN = awakeable_id(os.urandom(28))  # well-formed, but no invocation waits on it: resolving it is harmless
FORGED = {
    "not an id": "text",
    "empty": "",
    "too short": awakeable_id(os.urandom(20)),
    "too long": awakeable_id(os.urandom(32)),
    "non-canonical last character": "sign_1" + "A" * 37 + "B",
    "padded": FOREIGN + "==",
    "upper-case prefix": FOREIGN.replace("sign_1", "SIGN_1"),
    "old prefix": FOREIGN.replace("sign_1", "prom_1"),
    "standard base64 alphabet": "sign_1" + base64.b64encode(b"\xfb" * 28).decode().rstrip("="),
}
NOT_STRINGS = {"list": [1], "number": 5, "null": None, "object": {"id": FOREIGN}}


@pytest.fixture
async def http(hostile_restate: NativeRestate, pace: None, relayed: None) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hostile_restate.ingress_url, timeout=30) as client:
        yield client


def test_awakeable_ids_of_the_sdk_pass_and_forged_ones_do_not() -> None:
    assert is_awakeable_id(FOREIGN)
    assert is_awakeable_id("sign_1MLrxyhkzyvzvyzH3LIqx7nbO2WOcF08qAAAAEQ")  # as restate-sdk 1.3 made it
    assert not any(is_awakeable_id(forged) for forged in FORGED.values())


async def test_durablepromise_refuses_forged_listeners_and_never_wedges(
    hostile_restate: NativeRestate, http: httpx.AsyncClient
) -> None:
    promise_id, done_id = fresh_key("prom"), fresh_key("prom")
    with served(hostile_restate, "durablepromise"):
        # A real awaiter's listener id is what the check lets through.
        waiting = await http.post("/promise/await/send", json={"promiseId": promise_id})
        eventually(lambda: "listeners" in state(hostile_restate.admin_url, "promises", promise_id))
        listeners = state(hostile_restate.admin_url, "promises", promise_id)["listeners"]
        assert len(listeners) == 1 and is_awakeable_id(listeners[0])

        for name, forged in FORGED.items():
            status, message = await relay_call(http, "promises", "await", json.dumps(forged).encode(), promise_id)
            assert status == 400 and "awakeable id" in message, (name, status, message)
        for name, value in NOT_STRINGS.items():
            status, message = await relay_call(http, "promises", "await", json.dumps(value).encode(), promise_id)
            assert status == 400, (name, status, message)
        assert state(hostile_restate.admin_url, "promises", promise_id)["listeners"] == listeners

        # The promise still completes, and its real awaiter gets the value.
        resolved = await http.post("/promise/resolve", json={"promiseId": promise_id, "value": 42})
        assert resolved.json() == {"value": 42}
        invocation = waiting.json()["invocationId"]
        assert (await http.get(f"/restate/invocation/{invocation}/attach")).json() == {"value": 42}

        # A well-formed id of nobody's invocation is resolved at once and harms nobody.
        await http.post("/promise/resolve", json={"promiseId": done_id, "value": "v"})
        status, _ = await relay_call(http, "promises", "await", json.dumps(FOREIGN).encode(), done_id)
        assert status == 200

        # The private promise object is not reachable through the ingress at all.
        direct = await http.post(f"/promises/{promise_id}/await", json=FOREIGN)
        assert direct.status_code == 400 and "not public" in direct.json()["message"]
        settled(hostile_restate.admin_url, ["promises", "promise", RELAY])


async def test_qna_answer_of_any_json_type_never_wedges_the_asker(
    hostile_restate: NativeRestate, http: httpx.AsyncClient
) -> None:
    question = fresh_key("question")
    with served(hostile_restate, "durablepromise"):
        asked = await http.post("/qna/ask/send", json=question)
        eventually(lambda: "listeners" in state(hostile_restate.admin_url, "promises", question))
        # The question's promise resolved through the generic front service, with a number.
        await http.post("/promise/resolve", json={"promiseId": question, "value": 1})
        answer = await http.get(f"/restate/invocation/{asked.json()['invocationId']}/attach")
        assert answer.json() == {"answer": 1}
        settled(hostile_restate.admin_url, ["qna", "promises", "promise"])


def queue_state(restate: NativeRestate, name: str) -> dict[str, Any]:
    return state(restate.admin_url, "queue", name)


async def test_priorityqueue_tickets_are_checked_and_unknown_tickets_change_nothing(
    hostile_restate: NativeRestate, http: httpx.AsyncClient
) -> None:
    name = fresh_key("queue")

    async def queue(handler: str, body: Any) -> tuple[int, str]:
        return await relay_call(http, "queue", handler, json.dumps(body).encode(), name)

    with served(hostile_restate, "priorityqueue"):
        for forged in FORGED.values():
            assert (await queue("push", {"awakeable": forged, "priority": 1}))[0] == 400
        for handler in ("done", "drop"):
            for value in [*FORGED.values(), *NOT_STRINGS.values()]:
                status, message = await queue(handler, value)
                assert status == 400, (handler, value, status, message)
        assert queue_state(hostile_restate, name) == {}

        # One admitted ticket; unknown tickets neither free its slot nor take another one.
        assert await queue("push", {"awakeable": FOREIGN, "priority": 1}) == (200, "")
        assert queue_state(hostile_restate, name) == {"items": [], "inFlight": [FOREIGN]}
        unknown = awakeable_id(os.urandom(28))
        assert (await queue("drop", unknown))[0] == 200
        assert (await queue("done", unknown))[0] == 200
        assert queue_state(hostile_restate, name) == {"items": [], "inFlight": [FOREIGN]}
        assert (await queue("done", FOREIGN))[0] == 200
        assert queue_state(hostile_restate, name) == {"items": [], "inFlight": []}

        for handler in ("push", "done", "drop"):
            direct = await http.post(f"/queue/{name}/{handler}", json=FOREIGN)
            assert direct.status_code == 400 and "not public" in direct.json()["message"]

        # The pattern itself still works.
        result = await http.post("/myService/expensiveMethod", json={"left": 1, "right": 2})
        assert (result.status_code, result.json()) == (200, 3)
        settled(hostile_restate.admin_url, ["queue", "myService", RELAY])


async def test_statemachinepayments_expiry_and_accounts_are_internal(
    hostile_restate: NativeRestate, http: httpx.AsyncClient
) -> None:
    payment, account = fresh_key("pay"), fresh_key("acc")
    with served(hostile_restate, "statemachinepayments"):
        made = await http.post(f"/payments/{payment}/makePayment", json={"accountId": account, "amount": 100})
        assert made.json() == f"{payment} successful: true"
        balance = state(hostile_restate.admin_url, "accounts", account)["balance"]

        # Forgetting the payment early through the ingress would let it be charged again: refused.
        expired = await http.post(f"/payments/{payment}/expireToken")
        assert expired.status_code == 400 and "not public" in expired.json()["message"]
        again = await http.post(f"/payments/{payment}/makePayment", json={"accountId": account, "amount": 100})
        assert again.json() == f"{payment} previously completed"
        for handler in ("deposit", "withdraw"):
            direct = await http.post(f"/accounts/{account}/{handler}", json=1_000_000)
            assert direct.status_code == 400 and "not public" in direct.json()["message"]
        assert state(hostile_restate.admin_url, "accounts", account)["balance"] == balance

        # From inside: amounts are positive integers of cents, nothing else.
        for value in ["lots", 1.5, -5, 0, True, None, [100]]:
            for handler in ("deposit", "withdraw"):
                status, message = await relay_call(http, "accounts", handler, json.dumps(value).encode(), account)
                assert status == 400, (handler, value, status, message)
        assert state(hostile_restate.admin_url, "accounts", account)["balance"] == balance

        # The expiry timer's handler on an unknown payment id: nothing to forget, nothing created.
        unknown = fresh_key("pay")
        assert (await relay_call(http, "payments", "expireToken", b"", unknown))[0] == 200
        assert state(hostile_restate.admin_url, "payments", unknown) == {}
        settled(hostile_restate.admin_url, ["payments", "accounts", RELAY])


async def test_schedulingtasks_remind_for_an_unknown_invoice_does_nothing(
    hostile_restate: NativeRestate, http: httpx.AsyncClient
) -> None:
    invoice = fresh_key("in")
    event = {"type": "invoice.payment_failed", "created": 1, "data": {"id": invoice, "customer": "cus_1"}}
    with served(hostile_restate, "schedulingtasks"):
        status, _ = await relay_call(http, "PaymentTracker", "remind", json.dumps(event).encode(), invoice)
        assert status == 200
        assert state(hostile_restate.admin_url, "PaymentTracker", invoice) == {}
        settled(hostile_restate.admin_url, ["PaymentTracker", RELAY])


def stripe_signature(payload: bytes, secret: str) -> str:
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


async def test_signalspayments_webhook_with_a_forged_callback_id_is_refused(
    hostile_restate: NativeRestate, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "whsec_hostile"
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", secret)
    with served(hostile_restate, "signalspayments"):
        for forged in FORGED.values():
            if not forged:
                continue  # an empty id is a missing one: 404, covered by the pattern's tests
            intent = {"id": "pi_x", "object": "payment_intent", "status": "succeeded", "amount": 1}
            event = {
                "id": fresh_key("evt"),
                "object": "event",
                "type": "payment_intent.succeeded",
                "created": int(time.time()),
                "data": {"object": {**intent, "metadata": {"restate_callback_id": forged}}},
            }
            payload = json.dumps(event).encode()
            response = await http.post(
                "/payments/processWebhook",
                content=payload,
                headers={"content-type": "application/json", "stripe-signature": stripe_signature(payload, secret)},
            )
            assert response.status_code == 400, (forged, response.text)
            assert "not an awakeable id" in response.json()["message"]
        settled(hostile_restate.admin_url, ["payments"])
