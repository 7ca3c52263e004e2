"""durablerpc: idempotent reservations through the front end, the client and the ingress."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from durablerpc import client
from durablerpc.api import api
from patterns import REPO_ROOT, httpclient
from patterns.process import free_port
from patterns.serving import BackgroundServer
from tests.harness import Deployment, Logs, unique


def front_end(ingress_url: str) -> BackgroundServer:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESTATE_INGRESS_URL", ingress_url)
        return BackgroundServer(api, "127.0.0.1", free_port(), health_path="/openapi.json").start()


@pytest.fixture(scope="module")
def front(deployment: Deployment) -> Iterator[httpx.Client]:
    server = front_end(deployment.ingress_url)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            yield http
    finally:
        server.stop()


def test_reservation_is_idempotent_per_reservation_id(deployment: Deployment, front: httpx.Client, logs: Logs) -> None:
    product = unique("product")

    first = front.post(f"/reserve/{product}/reservation1")
    second = front.post(f"/reserve/{product}/reservation2")
    again = front.post(f"/reserve/{product}/reservation1")

    assert (first.status_code, first.json()) == (200, {"reserved": True})
    assert (second.status_code, second.json()) == (200, {"reserved": False})
    assert (again.status_code, again.json()) == (200, {"reserved": True})
    # The repeated reservation1 was answered from Restate's idempotency table: the handler ran twice, not 3 times.
    assert logs.count(f"Reserving product {product}") == 1
    assert logs.count(f"Product already reserved {product}") == 1
    assert deployment.state("product", product) == {"reserved": True}


def test_concurrent_reservations_of_one_product_reserve_it_once(deployment: Deployment, front: httpx.Client) -> None:
    product = unique("product")

    def reserve(i: int) -> bool:
        response = httpclient.http.post(f"{front.base_url}/reserve/{product}/r{i}", timeout=60)
        assert response.status_code == 200, response.text
        reserved: bool = response.json()["reserved"]
        return reserved

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(reserve, range(50)))

    assert results.count(True) == 1
    assert results.count(False) == 49
    assert deployment.state("product", product) == {"reserved": True}


def test_same_reservation_id_on_two_products_are_independent(deployment: Deployment, front: httpx.Client) -> None:
    one, two = unique("product"), unique("product")
    assert front.post(f"/reserve/{one}/shared-id").json() == {"reserved": True}
    assert front.post(f"/reserve/{two}/shared-id").json() == {"reserved": True}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/reserve/bad%20id/r1", 422),
        ("POST", "/reserve/p1/r%2F1", 404),
        ("POST", f"/reserve/{'x' * 129}/r1", 422),
        ("POST", "/reserve/only-product", 404),
        ("GET", "/reserve/p/r", 405),
    ],
)
def test_bad_requests_get_a_4xx_and_change_nothing(
    deployment: Deployment, front: httpx.Client, method: str, path: str, status: int
) -> None:
    response = front.request(method, path)
    assert response.status_code == status
    assert response.json()["detail"]  # a message saying what is wrong
    assert deployment.state("product", "bad id") == {} and deployment.state("product", "x" * 129) == {}


@pytest.mark.parametrize("product", [".", "..", "%2E%2E", "%2e"])
def test_dot_ids_are_refused_not_resolved(deployment: Deployment, front: httpx.Client, product: str) -> None:
    # Sent as is (httpx and curl would resolve `..` away first): a URL path would resolve the id.
    connection = http.client.HTTPConnection(front.base_url.host, front.base_url.port, timeout=30)
    try:
        connection.request("POST", f"/reserve/{product}/r1")
        response = connection.getresponse()
        assert response.status == 422
        assert json.loads(response.read())["detail"]
    finally:
        connection.close()


def test_front_end_answers_503_when_restate_is_unreachable() -> None:
    server = front_end(f"http://127.0.0.1:{free_port()}")
    try:
        response = httpclient.http.post(f"{server.url}/reserve/p1/r1", timeout=30)
    finally:
        server.stop()
    assert response.status_code == 503
    assert "Restate is unreachable" in response.json()["detail"]


async def test_client_main_deduplicates_by_reservation_id(deployment: Deployment) -> None:
    product = unique("product")
    assert await client.main(product, "reservation1", deployment.ingress_url) is True
    assert await client.main(product, "reservation2", deployment.ingress_url) is False
    assert await client.main(product, "reservation1", deployment.ingress_url) is True


def test_client_command_line(deployment: Deployment) -> None:
    product = unique("product")
    run = subprocess.run(
        [sys.executable, "-m", "durablerpc.client", "--product-id", product, "--reservation-id", "r1"],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "RESTATE_INGRESS_URL": deployment.ingress_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == '{"reserved": true}\n'


def test_ingress_call_with_idempotency_key_header(deployment: Deployment, logs: Logs) -> None:
    product = unique("product")
    url = f"{deployment.ingress_url}/product/{product}/reserve"
    answers = [httpclient.http.post(url, headers={"idempotency-key": key}, timeout=30) for key in ("a", "b", "a")]
    assert [(r.status_code, r.json()) for r in answers] == [(200, True), (200, False), (200, True)]
    assert answers[0].headers["x-restate-id"] == answers[2].headers["x-restate-id"]
    assert logs.count(f"Reserving product {product}") == 1
