"""sagas: compensations in reverse order on a terminal error, exactly-once effects through retries and crashes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from patterns import REPO_ROOT
from patterns.httpclient import http
from tests.harness import (
    Deployment,
    Logs,
    NativeRestate,
    ServiceProcess,
    eventually,
    sql,
    unique,
)
from tests.readme import DevStack, output_blocks

UUID = r"[0-9a-f-]{36}"
BOOKING = {
    "flights": {"flightId": "12345", "passengerName": "John Doe"},
    "car": {"pickupLocation": "Airport", "rentalDate": "2024-12-16"},
    "paymentInfo": {"cardNumber": "4111111111111111", "amount": 1500},
}
TERMINAL = "PATTERNS_FAILURES_SAGAS_PAYMENT_TERMINAL"
RETRYABLE = "PATTERNS_FAILURES_SAGAS_PAYMENT_RETRYABLE"


def book(deployment: Deployment, trip: str, body: Any = BOOKING) -> httpx.Response:
    return http.post(f"{deployment.ingress_url}/BookingWorkflow/{trip}/run", json=body, timeout=60)


def ids(messages: list[str], pattern: str) -> list[str]:
    """The ids captured by `pattern` (with one `(...)` group) in `messages`, in order."""
    return [m[1] for m in (re.fullmatch(pattern, message) for message in messages) if m]


def saga_lines(messages: list[str]) -> list[str]:
    """The booking's story, with ids replaced by the role they play."""
    names: dict[str, str] = {}
    for kind in ("Flight", "Car", "Payment"):
        for i, found in enumerate(dict.fromkeys(ids(messages, rf"{kind} ({UUID}) \w+"))):
            names[found] = f"<{kind.lower()}{i}>"
    story = []
    for message in messages:
        for found, name in names.items():
            message = message.replace(found, name)
        if re.match(r"(Flight|Car|Payment) <|\[👻 SIMULATED\]", message):
            story.append(message)
    return story


def test_terminal_payment_failure_runs_compensations_in_reverse(
    deployment: Deployment, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TERMINAL, "1")

    response = book(deployment, unique("trip"))

    assert response.status_code == 500
    assert response.json()["message"] == "[👻 SIMULATED] This payment could not be accepted!"
    assert saga_lines(logs.messages()) == [
        "Flight <flight0> reserved",
        "Car <car0> reserved",
        "[👻 SIMULATED] This payment should never be accepted! Aborting booking.",
        "Payment <payment0> refunded",
        "Car <car0> cancelled",
        "Flight <flight0> cancelled",
    ]
    assert not logs.containing("confirmed") and not logs.containing("processed")


def test_transient_payment_failures_are_retried_and_charge_once(
    deployment: Deployment, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TERMINAL, "0")
    monkeypatch.setenv(RETRYABLE, "first:2")

    response = book(deployment, unique("trip"))

    assert response.status_code == 200, response.text
    result = response.json()
    assert set(result) == {"flightBookingId", "carBookingId", "paymentId"}
    assert saga_lines(logs.messages()) == [
        "Flight <flight0> reserved",
        "Car <car0> reserved",
        "[👻 SIMULATED] A payment failure happened! Will retry...",
        "[👻 SIMULATED] A payment failure happened! Will retry...",
        "Payment <payment0> processed",
        "Flight <flight0> confirmed",
        "Car <car0> confirmed",
    ]
    assert logs.count(f"Payment {result['paymentId']} processed") == 1
    assert logs.count(f"Flight {result['flightBookingId']} confirmed") == 1
    assert logs.count(f"Car {result['carBookingId']} confirmed") == 1


def test_successful_booking_compensates_nothing(
    deployment: Deployment, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATTERNS_FAILURES", "0")

    response = book(deployment, unique("trip"))

    assert response.status_code == 200, response.text
    assert saga_lines(logs.messages()) == [
        "Flight <flight0> reserved",
        "Car <car0> reserved",
        "Payment <payment0> processed",
        "Flight <flight0> confirmed",
        "Car <car0> confirmed",
    ]
    assert not logs.containing("cancelled") and not logs.containing("refunded")


def test_the_go_examples_snake_case_payload_works_too(
    deployment: Deployment, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATTERNS_FAILURES", "0")
    body = {
        "flights": {"flight_id": "12345", "passenger_name": "John Doe"},
        "car": {"pickup_location": "Airport", "rental_date": "2024-12-16"},
        "payment_info": {"card_number": "4111111111111111", "amount": 1500},
    }
    assert book(deployment, unique("trip"), body).status_code == 200
    assert len(logs.containing("confirmed")) == 2


def test_a_workflow_runs_once_per_trip_id(deployment: Deployment, logs: Logs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATTERNS_FAILURES", "0")
    trip = unique("trip")
    first = book(deployment, trip)
    assert first.status_code == 200

    again = book(deployment, trip)
    resent = http.post(f"{deployment.ingress_url}/BookingWorkflow/{trip}/run/send", json=BOOKING, timeout=30)
    output = http.get(f"{deployment.ingress_url}/restate/workflow/BookingWorkflow/{trip}/output", timeout=30)

    assert (again.status_code, again.json()["message"]) == (409, "the workflow method was already invoked")
    assert resent.json()["status"] == "PreviouslyAccepted"
    assert output.json() == first.json()
    assert len(logs.containing("reserved")) == 2  # one flight, one car: the saga ran once
    assert len(logs.containing("confirmed")) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"x": 1},
        {**BOOKING, "paymentInfo": {"cardNumber": "4111", "amount": -5}},
        {**BOOKING, "flights": {"flightId": "12345"}},
        "not a booking",
    ],
)
def test_bad_input_gets_a_400_and_books_nothing(deployment: Deployment, logs: Logs, body: Any) -> None:
    trip = unique("trip")
    response = book(deployment, trip, body)
    assert response.status_code == 400
    assert response.json()["message"].startswith("Unable to parse an input argument.")
    assert not logs.containing("reserved")
    assert deployment.state("BookingWorkflow", trip) == {}


@pytest.mark.slow
def test_killed_after_the_car_reservation_the_saga_finishes_with_each_effect_once(
    tmp_path: Path, restate_settings: dict[str, str]
) -> None:
    # A private server that keeps retrying while the service is down (the session server gives up quickly).
    patient = {
        **restate_settings,
        "RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL": "100ms",
        "RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": "500ms",
        "RESTATE_DEFAULT_RETRY_POLICY__MAX_ATTEMPTS": "200",
    }
    server = NativeRestate(tmp_path, patient)
    # The payment provider hangs in the first process: the kill lands while the charge is in flight.
    service = ServiceProcess(server, "sagas", env={TERMINAL: "1", "PATTERNS_DURATION_SAGAS_PAYMENT": "10m"})
    try:
        service.start()
        sent = http.post(f"{server.ingress_url}/BookingWorkflow/trip-crash/run/send", json=BOOKING, timeout=30)
        invocation = sent.json()["invocationId"]

        def charge_in_flight() -> None:
            entries = [
                row["entry_type"]
                for row in sql(server.admin_url, f"select * from sys_journal where id = '{invocation}'")
            ]
            assert "Command: Run" in entries and "Notification: Run" not in entries, entries

        eventually(charge_in_flight, timeout=30)
        assert service.count(" reserved") == 2
        service.kill()
        service.env["PATTERNS_DURATION_SAGAS_PAYMENT"] = "0s"
        service.restart()

        output = http.get(f"{server.ingress_url}/restate/workflow/BookingWorkflow/trip-crash/attach", timeout=60)
        assert output.json()["message"] == "[👻 SIMULATED] This payment could not be accepted!"
        log = [line.split(" - ", 1)[-1] for line in service.lines]
        assert saga_lines(log) == [
            "Flight <flight0> reserved",
            "Car <car0> reserved",
            "[👻 SIMULATED] This payment should never be accepted! Aborting booking.",
            "Payment <payment0> refunded",
            "Car <car0> cancelled",
            "Flight <flight0> cancelled",
        ]
    finally:
        service.stop()
        server.stop()


@pytest.mark.walkthrough(env={TERMINAL: "1"})
@pytest.mark.slow
def test_readme_walkthrough(dev_stack: DevStack) -> None:
    readme = REPO_ROOT / "sagas" / "README.md"
    assert dev_stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows
    story = saga_lines([line.split(" - ", 1)[-1] for line in dev_stack.log("sagas")])
    assert story[:6] == [
        "Flight <flight0> reserved",
        "Car <car0> reserved",
        "[👻 SIMULATED] This payment should never be accepted! Aborting booking.",
        "Payment <payment0> refunded",
        "Car <car0> cancelled",
        "Flight <flight0> cancelled",
    ]
