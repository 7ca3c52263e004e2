"""webhookcallbacks: Stripe events are routed to the right per-invoice tracker, exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from patterns import REPO_ROOT
from patterns.httpclient import http
from tests.harness import Deployment, Logs, eventually, sql, unique
from tests.readme import DevStack, output_blocks


def stripe_event(kind: str, invoice: str) -> dict[str, Any]:
    return {
        "id": unique("evt_"),
        "object": "event",
        "type": kind,
        "created": 1633025000,
        "livemode": False,
        "data": {
            "object": {"id": invoice, "object": "invoice", "customer": "cus_J5K2Y4F2eZvKYlo2", "amount_due": 2000}
        },
    }


def deliver(deployment: Deployment, event: Any, idempotency_key: str | None = None) -> httpx.Response:
    headers = {"idempotency-key": idempotency_key} if idempotency_key else {}
    return http.post(
        f"{deployment.ingress_url}/WebhookCallbackRouter/onStripeEvent", json=event, headers=headers, timeout=30
    )


def status(deployment: Deployment, invoice: str) -> dict[str, Any]:
    response = http.post(f"{deployment.ingress_url}/PaymentTracker/{invoice}/getStatus", timeout=30)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def sends_to_tracker(deployment: Deployment, invoice: str) -> list[str]:
    """The handlers of the tracker invoked for `invoice` (what the router sent; our getStatus reads left out)."""
    rows = sql(
        deployment.admin_url,
        "select target_handler_name from sys_invocation where target_service_name = 'PaymentTracker'"
        f" and target_service_key = '{invoice}' and target_handler_name != 'getStatus'",
    )
    return [row["target_handler_name"] for row in rows]


@pytest.mark.parametrize(
    ("kind", "handler", "paid"),
    [("invoice.payment_failed", "onPaymentFailure", False), ("invoice.payment_succeeded", "onPaymentSuccess", True)],
)
def test_payment_events_land_on_the_tracker_of_their_invoice(
    deployment: Deployment, logs: Logs, kind: str, handler: str, paid: bool
) -> None:
    invoice, other = unique("in_"), unique("in_")
    event = stripe_event(kind, invoice)

    response = deliver(deployment, event, event["id"])

    assert response.status_code == 200, response.text
    eventually(lambda: len(status(deployment, invoice)["events"]) == 1)
    assert status(deployment, invoice) == {"paid": paid, "events": [event]}  # every Stripe field kept
    stored = deployment.state("PaymentTracker", invoice)
    assert stored["events"] == [event] and stored.get("paid", False) is paid
    assert deployment.state("PaymentTracker", other) == {}
    verb = "failed" if kind == "invoice.payment_failed" else "succeeded"
    assert logs.count(f"Payment {verb} for invoice {invoice} (event {event['id']})") == 1
    assert sends_to_tracker(deployment, invoice) == [handler]


def test_failure_then_success_on_one_invoice(deployment: Deployment) -> None:
    invoice = unique("in_")
    failed, succeeded = (
        stripe_event("invoice.payment_failed", invoice),
        stripe_event("invoice.payment_succeeded", invoice),
    )
    assert deliver(deployment, failed, failed["id"]).status_code == 200
    assert deliver(deployment, succeeded, succeeded["id"]).status_code == 200
    eventually(lambda: len(status(deployment, invoice)["events"]) == 2)
    assert status(deployment, invoice) == {"paid": True, "events": [failed, succeeded]}


@pytest.mark.parametrize("kind", ["customer.subscription_created", "invoice.created", "payment_intent.succeeded"])
def test_other_event_types_are_ignored(deployment: Deployment, logs: Logs, kind: str) -> None:
    invoice = unique("in_")
    event = stripe_event(kind, invoice)
    response = deliver(deployment, event, event["id"])
    assert response.status_code == 200, response.text
    # The router invocation is complete and sent nothing: no call to the tracker exists, no state.
    assert logs.count(f"Ignoring event {event['id']} of type {kind}") == 1
    assert sends_to_tracker(deployment, invoice) == []
    assert deployment.state("PaymentTracker", invoice) == {}


def test_an_event_delivered_five_times_is_processed_once(deployment: Deployment, logs: Logs) -> None:
    invoice = unique("in_")
    event = stripe_event("invoice.payment_failed", invoice)

    with ThreadPoolExecutor(5) as pool:  # redeliveries can overlap
        responses = list(pool.map(lambda _: deliver(deployment, event, event["id"]), range(5)))

    assert [r.status_code for r in responses] == [200] * 5
    assert len({r.headers["x-restate-id"] for r in responses}) == 1  # one invocation of the router
    eventually(lambda: len(status(deployment, invoice)["events"]) == 1)
    assert sends_to_tracker(deployment, invoice) == ["onPaymentFailure"]
    assert logs.count(f"Routing event {event['id']} (invoice.payment_failed) to PaymentTracker {invoice}") == 1
    assert logs.count(f"Payment failed for invoice {invoice} (event {event['id']})") == 1
    assert deployment.state("PaymentTracker", invoice)["events"] == [event]


@pytest.mark.parametrize(
    "body",
    [
        # The scheduling tasks pattern's shortened event: `data.id` instead of Stripe's `data.object.id`.
        {"id": "evt_1", "type": "invoice.payment_failed", "created": 1, "data": {"id": "MALFORMED"}},
        {"type": "invoice.payment_failed", "data": {"object": {"id": "MALFORMED"}}},
        {
            "id": "evt_1",
            "type": "invoice.payment_failed",
            "created": "yesterday",
            "data": {"object": {"id": "MALFORMED"}},
        },
        ["not", "an", "event"],
        "{not json",
    ],
)
def test_a_malformed_event_gets_a_400_and_changes_nothing(deployment: Deployment, body: Any) -> None:
    if isinstance(body, str):
        response = http.post(
            f"{deployment.ingress_url}/WebhookCallbackRouter/onStripeEvent",
            content=body,
            headers={"content-type": "application/json"},
            timeout=30,
        )
    else:
        response = deliver(deployment, body)
    assert response.status_code == 400, response.text
    assert "Unable to parse an input argument" in response.json()["message"]
    assert sends_to_tracker(deployment, "MALFORMED") == []
    assert deployment.state("PaymentTracker", "MALFORMED") == {}


@pytest.mark.parametrize("handler", ["onPaymentFailure", "onPaymentSuccess"])
def test_only_the_router_records_events(deployment: Deployment, handler: str) -> None:
    # Through the ingress, nobody can mark an invoice paid (or failed) without a webhook.
    invoice = unique("in_")
    event = {"id": "evt_forged", "type": "invoice.payment_succeeded", "created": 1, "data": {"object": {"id": invoice}}}
    response = http.post(f"{deployment.ingress_url}/PaymentTracker/{invoice}/{handler}", json=event, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["message"] == "the invoked service is not public"
    assert status(deployment, invoice) == {"paid": False, "events": []}


def test_readme_walkthrough(dev_stack: DevStack) -> None:
    readme = REPO_ROOT / "webhookcallbacks" / "README.md"
    assert dev_stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows
    log = dev_stack.log("webhookcallbacks")
    assert sum("Payment failed for invoice in_1MtHbELkdIwHu7ixl4OzzPMv" in line for line in log) == 1
