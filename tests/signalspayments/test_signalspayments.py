"""signalspayments: the real `stripe` library -> localstripe -> real signed webhooks -> Restate.

Every payment uses its own random amount, so the payment intents of one test are found on the local
Stripe server by amount.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from patterns import REPO_ROOT, httpclient
from patterns.localstripe import LocalStripe, register_webhook
from signalspayments import WEBHOOKS
from signalspayments.stripe_utils import confirmation_params
from tests.harness import Deploy, Deployment, Logs, eventually, sql
from tests.readme import DevStack, output_blocks

# stripe's HTTPXClient posts form data with `data=`, which httpx deprecates: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

DECLINING_CARD = "pm_card_chargeCustomerFail"  # declined at charge time (pm_card_visa_chargeDeclined succeeds here)
FAILING_IBAN = "DE62370400440532013001"  # SEPA debit: 'processing', then payment_failed (localstripe)


@pytest.fixture(scope="module")
def deployment(deploy: Deploy, localstripe: LocalStripe) -> Deployment:
    deployment = deploy("signalspayments.app:app", env=localstripe.service_env())
    localstripe.register_webhook(f"{deployment.ingress_url}/{WEBHOOKS['stripe']}")
    return deployment


@pytest.fixture(scope="module")
def http(deployment: Deployment) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=deployment.ingress_url, timeout=60) as client:
        yield client


def new_amount() -> int:
    return random.randint(100_000, 999_999_999)


def intents(stripe_server: LocalStripe, amount: int | None = None) -> list[dict[str, Any]]:
    """The payment intents on the local Stripe server (with this amount)."""
    response = httpclient.http.get(
        f"{stripe_server.api_base}/v1/payment_intents",
        params={"limit": 100},
        auth=(stripe_server.api_key, ""),
        timeout=10,
    )
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()["data"]
    return [pi for pi in found if amount is None or pi["amount"] == amount]


def pay(http: httpx.Client, body: dict[str, Any], **headers: str) -> httpx.Response:
    return http.post("/payments/processPayment", json=body, headers=headers)


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `stripe-signature` header value, computed as Stripe does."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1=" + hmac.new(secret.encode(), b"%d." % t + payload, hashlib.sha256).hexdigest()


def event(kind: str, data_object: dict[str, Any]) -> bytes:
    body = {
        "id": f"evt_test{random.randint(0, 10**9)}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": data_object},
    }
    return json.dumps(body).encode()


def intent_event(kind: str, status: str, metadata: dict[str, str]) -> bytes:
    pi = {"id": "pi_selfsigned", "object": "payment_intent", "status": status, "amount": 1, "metadata": metadata}
    return event(kind, pi)


def post_webhook(http: httpx.Client, payload: bytes, signature: str | None) -> httpx.Response:
    headers = {"content-type": "application/json; charset=utf-8"}
    if signature is not None:
        headers["stripe-signature"] = signature
    return http.post("/payments/processWebhook", content=payload, headers=headers)


# -- the synchronous path -----------------------------------------------------------------------------


def test_sync_success(deployment: Deployment, http: httpx.Client, localstripe: LocalStripe, logs: Logs) -> None:
    amount = new_amount()
    response = pay(http, {"paymentMethodId": "pm_card_visa", "amount": amount})

    assert response.status_code == 200, response.text
    [pi] = intents(localstripe, amount)
    assert pi["status"] == "succeeded"
    assert pi["currency"] == "usd"
    assert pi["metadata"]["restate_callback_id"].startswith("sign_")  # the awakeable id travels with the intent
    assert len(logs.containing("was processed synchronously!")) == 1
    assert logs.containing("awaiting webhook call") == []


def test_sync_decline_is_a_terminal_error_with_the_decline_text(
    deployment: Deployment, http: httpx.Client, localstripe: LocalStripe
) -> None:
    amount = new_amount()
    response = pay(http, {"paymentMethodId": DECLINING_CARD, "amount": amount})

    assert response.status_code == 500
    assert response.json()["message"] == "Payment declined: requires_payment_method - Your card was declined."
    [pi] = intents(localstripe, amount)  # declined, not retried: still one intent
    assert pi["status"] == "requires_payment_method"


# -- the webhook path ---------------------------------------------------------------------------------


def test_delayed_status_waits_for_the_real_succeeded_webhook(
    deployment: Deployment, http: httpx.Client, localstripe: LocalStripe, logs: Logs
) -> None:
    amount = new_amount()
    response = pay(http, {"paymentMethodId": "pm_card_visa", "amount": amount, "delayedStatus": True})

    assert response.status_code == 200, response.text
    [pi] = intents(localstripe, amount)
    waiting = logs.containing("still 'processing', awaiting webhook call...")
    received = logs.containing("received!")
    webhook = logs.containing(f"Received webhook call for payment intent {pi['id']} (succeeded)")
    # "still processing" is logged after the journal's last entry, so a replay after the suspension (always
    # with --always-replay) logs it again; the webhook and the completion happen once.
    assert len(received) == len(webhook) == 1 and len(waiting) >= 1
    messages = logs.messages()
    # processPayment suspended on the awakeable; the signed webhook resolved it; then it finished.
    assert messages.index(waiting[0]) < messages.index(webhook[0]) < messages.index(received[0])


def test_delayed_status_with_a_declining_card_fails_through_the_payment_failed_webhook(
    deployment: Deployment, http: httpx.Client, localstripe: LocalStripe, logs: Logs
) -> None:
    amount = new_amount()
    response = pay(http, {"paymentMethodId": DECLINING_CARD, "amount": amount, "delayedStatus": True})

    assert response.status_code == 500
    assert response.json()["message"] == "Payment declined: requires_payment_method"
    [pi] = intents(localstripe, amount)
    assert len(logs.containing(f"Received webhook call for payment intent {pi['id']} (requires_payment_method)")) == 1
    assert len(logs.containing("received!")) == 1


def test_sepa_debit_is_really_processing_and_the_webhook_declines_it(
    deployment: Deployment, http: httpx.Client, localstripe: LocalStripe, logs: Logs
) -> None:
    created = http.post(
        f"{localstripe.api_base}/v1/payment_methods",
        data={"type": "sepa_debit", "sepa_debit[iban]": FAILING_IBAN},
        auth=(localstripe.api_key, ""),
        timeout=10,
    )
    created.raise_for_status()
    amount = new_amount()

    response = pay(http, {"paymentMethodId": created.json()["id"], "amount": amount})

    assert response.status_code == 500
    assert response.json()["message"] == "Payment declined: requires_payment_method"
    # No delayedStatus: Stripe itself answered 'processing', and the payment_failed webhook settled it.
    assert len(logs.containing("still 'processing', awaiting webhook call...")) >= 1  # again on replay
    assert len(logs.containing("received!")) == 1
    assert intents(localstripe, amount)[0]["status"] == "requires_payment_method"


# -- webhook verification -----------------------------------------------------------------------------


WAITING = ("running", "suspended")  # awaiting the awakeable (suspended after the inactivity timeout)


def invocation_status(admin_url: str, invocation_id: str) -> str:
    [row] = sql(admin_url, f"select status from sys_invocation where id = '{invocation_id}'")
    return str(row["status"])


def test_forged_webhook_is_rejected_and_resolves_nothing(
    deployment: Deployment, http: httpx.Client, localstripe: LocalStripe
) -> None:
    amount = new_amount()
    # For this test localstripe sends its webhooks nowhere: the test itself plays the webhook.
    register_webhook(
        localstripe.api_base, f"{deployment.ingress_url}/{WEBHOOKS['stripe']}", "whsec_unused", ("none.none",)
    )
    invocation_id = ""
    try:
        sent = http.post(
            "/payments/processPayment/send",
            json={"paymentMethodId": "pm_card_visa", "amount": amount, "delayedStatus": True},
        )
        assert sent.status_code == 202, sent.text
        invocation_id = sent.json()["invocationId"]
        [pi] = eventually(lambda: intents(localstripe, amount), timeout=30)
        callback = {"restate_callback_id": pi["metadata"]["restate_callback_id"]}
        payload = intent_event("payment_intent.succeeded", "succeeded", callback)
        assert invocation_status(deployment.admin_url, invocation_id) in WAITING

        forged = post_webhook(http, payload, sign(payload, "whsec_not_the_secret"))
        tampered = post_webhook(http, payload.replace(b'"succeeded"', b'"canceled"'), sign(payload, "whsec_x"))

        assert forged.status_code == 400
        assert forged.json()["message"].startswith("Webhook Error: No signatures found matching")
        assert tampered.status_code == 400
        assert invocation_status(deployment.admin_url, invocation_id) in WAITING  # nothing resolved

        genuine = post_webhook(http, payload, sign(payload, localstripe.webhook_secret))
        assert (genuine.status_code, genuine.json()) == (200, {"received": True})
        output = http.get(f"/restate/invocation/{invocation_id}/attach")
        assert output.status_code == 200, output.text
    finally:
        localstripe.register_webhook(f"{deployment.ingress_url}/{WEBHOOKS['stripe']}")
        if invocation_id and invocation_status(deployment.admin_url, invocation_id) != "completed":
            httpclient.http.patch(f"{deployment.admin_url}/invocations/{invocation_id}/kill", timeout=10)


def test_webhook_without_signature_is_a_400(deployment: Deployment, http: httpx.Client) -> None:
    response = post_webhook(http, intent_event("payment_intent.succeeded", "succeeded", {}), None)
    assert response.status_code == 400
    assert response.json()["message"] == "Missing 'stripe-signature' header."


def test_webhook_without_callback_id_is_a_404(
    deployment: Deployment, http: httpx.Client, localstripe: LocalStripe
) -> None:
    payload = intent_event("payment_intent.succeeded", "succeeded", {})
    response = post_webhook(http, payload, sign(payload, localstripe.webhook_secret))
    assert response.status_code == 404
    assert response.json()["message"] == "Missing callback property: restate_callback_id"


def test_webhook_ignores_other_events(
    deployment: Deployment, http: httpx.Client, localstripe: LocalStripe, logs: Logs
) -> None:
    payload = event("customer.created", {"id": "cus_selfsigned", "object": "customer"})
    response = post_webhook(http, payload, sign(payload, localstripe.webhook_secret))
    assert (response.status_code, response.json()) == (200, {"received": True})
    assert logs.count("Unhandled event type customer.created") == 1


# -- idempotency and bad input ------------------------------------------------------------------------


def test_same_idempotency_key_creates_one_payment_intent(
    deployment: Deployment, http: httpx.Client, localstripe: LocalStripe
) -> None:
    amount = new_amount()
    body = {"paymentMethodId": "pm_card_visa", "amount": amount}
    key = f"payment-{amount}"

    first = pay(http, body, **{"idempotency-key": key})
    second = pay(http, body, **{"idempotency-key": key})

    assert first.status_code == second.status_code == 200
    assert first.headers["x-restate-id"] == second.headers["x-restate-id"]
    # localstripe ignores Stripe's own idempotency keys: this one intent is Restate's doing.
    assert len(intents(localstripe, amount)) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"paymentMethodId": "pm_card_visa"}, "amount\n  Field required"),
        ({"paymentMethodId": "pm_card_visa", "amount": 0}, "amount\n  Input should be greater than 0"),
        ({"amount": 109}, "paymentMethodId\n  Field required"),
        ({"paymentMethodId": "", "amount": 109}, "paymentMethodId\n  String should have at least 1 character"),
        ({"paymentMethodId": "pm_card_visa", "amount": -5}, "amount\n  Input should be greater than 0"),
        ({"paymentMethodId": "pm_card_visa", "amount": "lots"}, "amount\n  Input should be a valid integer"),
        ({"paymentMethodId": "pm_card_visa", "amount": 10.5}, "amount\n  Input should be a valid integer"),
        ([1, 2], "Input should be an object"),
    ],
)
def test_bad_requests_get_a_400_and_create_nothing(
    deployment: Deployment, http: httpx.Client, localstripe: LocalStripe, body: Any, message: str
) -> None:
    before = len(intents(localstripe))
    response = pay(http, body)
    assert response.status_code == 400
    assert response.json()["message"].startswith(
        "Unable to parse an input argument. 1 validation error for PaymentRequest"
    )
    assert message in response.json()["message"]
    assert len(intents(localstripe)) == before


def test_unknown_payment_method_is_a_400(deployment: Deployment, http: httpx.Client) -> None:
    response = pay(http, {"paymentMethodId": "pm_no_such_method", "amount": 109})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Stripe rejected the request: ")


def test_stripe_itself_gets_the_typescript_confirmation_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_API_BASE", raising=False)
    assert confirmation_params() == {"confirmation_method": "automatic", "return_url": "https://restate.dev/"}
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:8420")
    assert confirmation_params() == {"payment_method_types": ["card"]}


def test_service_refuses_to_start_without_stripe_settings() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "signalspayments"],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET not set" in run.stderr


# -- the README, against `python -m patterns dev signalspayments` --------------------------------------


@pytest.mark.slow
def test_readme_walkthrough(dev_stack: DevStack) -> None:
    [webhook] = [line.strip() for line in dev_stack.lines if line.strip().startswith("localstripe http://")]
    assert webhook.endswith(f"webhooks -> http://127.0.0.1:{dev_stack.ports['ingress']}/payments/processWebhook")
    readme = REPO_ROOT / "signalspayments" / "README.md"
    assert dev_stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows
    log = dev_stack.log("signalspayments")
    # The delayedStatus calls waited for localstripe's webhooks.
    assert sum("still 'processing', awaiting webhook call..." in line for line in log) == 2
    assert sum(line.endswith(" received!") for line in log) == 2
