"""eventenrichment: a package registered over RPC, enriched by location events through a real Kafka
subscription (Tansu broker), read back over RPC; failed events do not block the ones after them."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from patterns import REPO_ROOT
from patterns.kafka import KafkaBroker, create_topics, subscribe, subscriptions, unsubscribe
from patterns.produce import produce
from tests.harness import Deploy, Deployment, NativeRestate, eventually, sql, state, unique
from tests.readme import DevStack, output_blocks

log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def topic(kafka: KafkaBroker) -> str:
    name = unique("package-location-updates")
    create_topics(kafka.bootstrap, [name])
    return name


@pytest.fixture(scope="module")
def deployment(deploy: Deploy, kafka_restate: NativeRestate, kafka: KafkaBroker, topic: str) -> Iterator[Deployment]:
    """The app deployed in this process on the Kafka-enabled server, subscribed to the module's topic."""
    deployment = deploy("eventenrichment.app:app", on=kafka_restate)
    started = time.monotonic()
    subscription = subscribe(deployment.admin_url, topic, "package-tracker/updateLocation")
    # Measure how long the consumer group join takes: register a package and wait for its first event.
    with httpx.Client(base_url=deployment.ingress_url, timeout=30) as http:
        assert http.post("/package-tracker/warm-up/registerPackage", json={"finalDestination": "x"}).status_code == 200
        send(kafka, topic, ['warm-up:{"timestamp": "t0", "location": "l0"}'])
        eventually(lambda: len(info(http, "warm-up")["locations"]) == 1, timeout=30)
    log.info("subscription -> first handled event: %.2fs", time.monotonic() - started)
    try:
        yield deployment
    finally:
        unsubscribe(deployment.admin_url, subscription.id)


def send(kafka: KafkaBroker, topic: str, lines: list[str]) -> None:
    """Produce `key:{json}` lines, as `python -m patterns.produce` does."""
    assert produce(topic, io.StringIO("\n".join(lines)), kafka.bootstrap) == (len(lines), 0)


def info(http: httpx.Client, package: str) -> Any:
    response = http.post(f"/package-tracker/{package}/getPackageInfo")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def http(deployment: Deployment) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=deployment.ingress_url, timeout=30) as client:
        yield client


def test_locations_from_kafka_enrich_the_registered_package_in_order(
    deployment: Deployment, topic: str, kafka: KafkaBroker, http: httpx.Client
) -> None:
    package = unique("package")
    registered = http.post(
        f"/package-tracker/{package}/registerPackage", json={"finalDestination": "Bridge 6, Amsterdam"}
    )
    assert registered.status_code == 200, registered.text
    assert info(http, package) == {"finalDestination": "Bridge 6, Amsterdam", "locations": []}

    send(
        kafka,
        topic,
        [
            f'{package}:{{"timestamp": "2024-10-10 13:00", "location": "Pinetree Road 5, Paris"}}',
            f'{package}:{{"timestamp": "2024-10-10 14:00", "location": "Mountain Road 155, Brussels"}}',
        ],
    )

    expected = {
        "finalDestination": "Bridge 6, Amsterdam",
        "locations": [
            {"timestamp": "2024-10-10 13:00", "location": "Pinetree Road 5, Paris"},
            {"timestamp": "2024-10-10 14:00", "location": "Mountain Road 155, Brussels"},
        ],
    }
    eventually(lambda: info(http, package) == expected, timeout=20)
    assert deployment.state("package-tracker", package) == {"package-info": expected}
    # Each record invoked the handler once, through the subscription.
    rows = sql(
        deployment.admin_url,
        f"select invoked_by, status from sys_invocation where target = 'package-tracker/{package}/updateLocation'",
    )
    assert [(row["invoked_by"], row["status"]) for row in rows] == [("subscription", "completed")] * 2


def test_an_event_for_an_unknown_package_creates_nothing_and_does_not_block_later_events(
    deployment: Deployment, topic: str, kafka: KafkaBroker, http: httpx.Client
) -> None:
    package = unique("package")
    send(kafka, topic, [f'{package}:{{"timestamp": "2024-10-10 12:00", "location": "Nowhere"}}'])
    failed = eventually(
        lambda: sql(
            deployment.admin_url,
            "select completion_failure from sys_invocation "
            f"where target = 'package-tracker/{package}/updateLocation' and status = 'completed'",
        ),
        timeout=20,
    )
    assert f"Package {package} not found" in failed[0]["completion_failure"]
    assert state(deployment.admin_url, "package-tracker", package) == {}
    assert info(http, package) is None

    # The failed record is skipped, not retried: the next records of the same key go through.
    http.post(f"/package-tracker/{package}/registerPackage", json={"finalDestination": "Bridge 6, Amsterdam"})
    send(kafka, topic, [f'{package}:{{"timestamp": "2024-10-10 13:00", "location": "Pinetree Road 5, Paris"}}'])
    eventually(lambda: len(info(http, package)["locations"]) == 1, timeout=20)
    assert info(http, package)["locations"] == [{"timestamp": "2024-10-10 13:00", "location": "Pinetree Road 5, Paris"}]


def test_http_calls_answer_404_for_unknown_packages_and_400_for_bad_input(
    deployment: Deployment, http: httpx.Client
) -> None:
    package = unique("package")
    update = {"timestamp": "2024-10-10 13:00", "location": "Pinetree Road 5, Paris"}

    unknown = http.post(f"/package-tracker/{package}/updateLocation", json=update)
    assert (unknown.status_code, unknown.json()["message"]) == (404, f"Package {package} not found")

    for path, body in [
        ("registerPackage", {"destination": "typo"}),
        ("registerPackage", ["Bridge 6"]),
        ("updateLocation", {"location": "no timestamp"}),
    ]:
        bad = http.post(f"/package-tracker/{package}/{path}", json=body)
        assert bad.status_code == 400, bad.text
        assert bad.json()["message"].startswith("Unable to parse an input argument.")
    assert state(deployment.admin_url, "package-tracker", package) == {}

    # snake_case input (the Go and Python examples' field names) is accepted too; output stays camelCase.
    http.post(f"/package-tracker/{package}/registerPackage", json={"final_destination": "Bridge 6, Amsterdam"})
    assert http.post(f"/package-tracker/{package}/updateLocation", json=update).status_code == 200
    assert info(http, package) == {"finalDestination": "Bridge 6, Amsterdam", "locations": [update]}


def test_subscribe_lists_first_and_never_creates_a_duplicate(deployment: Deployment, topic: str) -> None:
    """What the dev runner relies on: Restate itself would accept the same subscription twice."""
    existing = subscriptions(deployment.admin_url, topic)
    again = subscribe(deployment.admin_url, topic, "package-tracker/updateLocation")
    assert (again.created, [again]) == (False, existing)
    assert subscriptions(deployment.admin_url, topic) == existing


# Read-only steps that show the effect of Kafka messages: retried until the messages are processed.
EVENTUALLY = ("getPackageInfo", "kv get")


@pytest.mark.slow
def test_readme_walkthrough(dev_stack: DevStack) -> None:
    """`python -m patterns dev eventenrichment` starts the broker and creates the subscription; the README,
    run step by step as a reader would (so with its own subscription curl), gives the outputs it shows."""
    assert any("(created)" in line and "package-tracker/updateLocation" in line for line in dev_stack.lines)
    admin = f"http://{dev_stack.port_map[9070]}"
    # The README's step 5 creates the subscription the dev runner made: remove the runner's first.
    for subscription in subscriptions(admin, "package-location-updates"):
        unsubscribe(admin, subscription.id)

    readme = REPO_ROOT / "eventenrichment" / "README.md"
    assert dev_stack.run_walkthrough(readme, retried=EVENTUALLY) == output_blocks(readme)  # every output it shows
    assert len(subscriptions(admin, "package-location-updates")) == 1  # the README's, no duplicate
