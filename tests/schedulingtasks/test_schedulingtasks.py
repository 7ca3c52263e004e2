"""schedulingtasks: three reminders on durable timers, then one escalation; payment stops the loop."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from patterns import REPO_ROOT
from patterns.httpclient import http
from schedulingtasks.app import app
from tests.harness import Deployment, Logs, NativeRestate, deployed, eventually, sql, state, unique
from tests.readme import DevStack, output_blocks

INTERVAL = "PATTERNS_DURATION_SCHEDULINGTASKS_REMINDER"


def event(event_id: str) -> dict[str, Any]:
    return {"type": "invoice.payment_failed", "created": 1633025000, "data": {"id": event_id, "customer": "cus_1"}}


def new_ids() -> tuple[str, str]:
    """An invoice and the id of its Stripe event."""
    return unique("invoice"), unique("evt_")


def call(ingress_url: str, invoice: str, handler: str, body: Any) -> httpx.Response:
    return http.post(f"{ingress_url}/PaymentTracker/{invoice}/{handler}", json=body, timeout=30)


def reminder_log(logs: Logs, event_id: str) -> list[str]:
    wanted = (REMINDED.format(event_id), ESCALATED.format(event_id))
    return [m for m in logs.messages() if m in wanted]


def pending_invocations(admin_url: str, invoice: str) -> int:
    rows = sql(
        admin_url,
        f"select count(*) as n from sys_invocation where target_service_name = 'PaymentTracker' "
        f"and target_service_key = '{invoice}' and status != 'completed'",
    )
    return int(rows[0]["n"])


REMINDED = "Sending reminder email for event: {}"
ESCALATED = "Escalating to {} invoice to support team"


def test_failure_only_three_reminders_then_one_escalation(
    deployment: Deployment, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INTERVAL, "200ms")
    invoice, event_id = new_ids()

    assert call(deployment.ingress_url, invoice, "onPaymentFailure", event(event_id)).status_code == 200

    eventually(lambda: logs.count(ESCALATED.format(event_id)) == 1, timeout=20)
    eventually(lambda: pending_invocations(deployment.admin_url, invoice) == 0, timeout=10)  # no timer left
    assert reminder_log(logs, event_id) == [REMINDED.format(event_id)] * 3 + [ESCALATED.format(event_id)]
    assert deployment.state("PaymentTracker", invoice) == {"reminders_count": 3, "escalated": True}


def test_success_after_first_reminder_stops_the_loop(
    deployment: Deployment, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INTERVAL, "1s")
    invoice, event_id = new_ids()

    assert call(deployment.ingress_url, invoice, "onPaymentFailure", event(event_id)).status_code == 200
    assert logs.count(REMINDED.format(event_id)) == 1  # the first reminder goes out at once
    assert call(deployment.ingress_url, invoice, "onPaymentSuccess", event(event_id)).status_code == 200

    # The pending timer still fires, sees the payment and stops.
    eventually(lambda: logs.count(f"Invoice {invoice} was paid: reminders stop") == 1, timeout=20)
    eventually(lambda: pending_invocations(deployment.admin_url, invoice) == 0, timeout=10)
    assert logs.count(REMINDED.format(event_id)) == 1
    assert logs.count(ESCALATED.format(event_id)) == 0
    assert deployment.state("PaymentTracker", invoice) == {"reminders_count": 1, "paid": True}


def test_success_first_makes_a_later_failure_a_noop(deployment: Deployment, logs: Logs) -> None:
    invoice, event_id = new_ids()

    assert call(deployment.ingress_url, invoice, "onPaymentSuccess", event(event_id)).status_code == 200
    assert call(deployment.ingress_url, invoice, "onPaymentFailure", event(event_id)).status_code == 200

    assert logs.count(f"Invoice {invoice} is already paid: no reminders") == 1
    assert logs.count(REMINDED.format(event_id)) == 0
    assert pending_invocations(deployment.admin_url, invoice) == 0
    assert deployment.state("PaymentTracker", invoice) == {"paid": True}


def test_two_failure_events_make_one_chain(deployment: Deployment, logs: Logs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INTERVAL, "200ms")
    invoice, event_id = new_ids()

    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda _: call(deployment.ingress_url, invoice, "onPaymentFailure", event(event_id)), range(2))
        )
    assert [a.status_code for a in answers] == [200, 200]
    # The second event arrives in the middle of the loop: still one chain.
    assert call(deployment.ingress_url, invoice, "onPaymentFailure", event(event_id)).status_code == 200

    eventually(lambda: logs.count(ESCALATED.format(event_id)) == 1, timeout=20)
    eventually(lambda: pending_invocations(deployment.admin_url, invoice) == 0, timeout=10)
    assert logs.count(f"Reminders for invoice {invoice} already running: ignoring event {event_id}") == 2
    assert reminder_log(logs, event_id) == [REMINDED.format(event_id)] * 3 + [ESCALATED.format(event_id)]
    assert deployment.state("PaymentTracker", invoice)["reminders_count"] == 3


@pytest.mark.parametrize(
    "body",
    [{"type": "x", "created": 1}, {"type": "x", "created": "yesterday", "data": {"id": "e", "customer": "c"}}, "text"],
)
def test_bad_event_gets_400_and_changes_nothing(deployment: Deployment, body: Any) -> None:
    invoice, _ = new_ids()
    response = call(deployment.ingress_url, invoice, "onPaymentFailure", body)
    assert response.status_code == 400
    assert "Unable to parse an input argument" in response.json()["message"]
    assert deployment.state("PaymentTracker", invoice) == {}


def test_internal_remind_handler_is_not_reachable_from_the_ingress(deployment: Deployment) -> None:
    invoice, event_id = new_ids()
    response = call(deployment.ingress_url, invoice, "remind", event(event_id))
    assert 400 <= response.status_code < 500
    assert deployment.state("PaymentTracker", invoice) == {}


@pytest.mark.slow
def test_timers_survive_a_restate_server_restart(
    own_restate: NativeRestate, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INTERVAL, "1s")
    invoice, event_id = new_ids()
    with deployed(own_restate, app):
        assert call(own_restate.ingress_url, invoice, "onPaymentFailure", event(event_id)).status_code == 200
        assert logs.count(REMINDED.format(event_id)) == 1

        own_restate.restart()  # same ports, same data directory: the stored timer is still there

        eventually(lambda: logs.count(ESCALATED.format(event_id)) == 1, timeout=30)
        eventually(lambda: pending_invocations(own_restate.admin_url, invoice) == 0, timeout=10)
        assert reminder_log(logs, event_id) == [REMINDED.format(event_id)] * 3 + [ESCALATED.format(event_id)]
        assert state_of(own_restate, invoice) == {"reminders_count": 3, "escalated": True}


def state_of(server: NativeRestate, invoice: str) -> dict[str, Any]:
    return state(server.admin_url, "PaymentTracker", invoice)


def test_readme_walkthrough(dev_stack: DevStack) -> None:
    readme = REPO_ROOT / "schedulingtasks" / "README.md"
    assert dev_stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows
    log = dev_stack.log("schedulingtasks")
    assert sum("Sending reminder email for event: evt_1JH2Y4F2eZvKYlo2C8b9" in line for line in log) == 1
