"""ratelimit: calls are spaced by the limiter's rate, a full bucket lets `burst` calls through at once, more
than the burst is refused with 429, and a call cancelled while it waits gives its tokens back."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from restate import Context, Service
from restate import app as restate_app

from patterns import REPO_ROOT
from patterns.httpclient import http
from ratelimit.app import app
from ratelimit.limiter import Reservation
from ratelimit.limiter_client import Limiter
from ratelimit.service import LIMITER_NAME
from tests.harness import Deployment, Logs, RestateBackend, deployed, eventually, sql
from tests.readme import DevStack, output_blocks

# The helper's other calls, made from a handler as a user of the pattern would (myService only waits).
probe = Service("rateLimitProbe")


@probe.handler("setRate")
async def probe_set_rate(ctx: Context, rate: dict[str, Any]) -> None:
    await Limiter.from_context(ctx, LIMITER_NAME).set_rate(rate.get("limit"), rate.get("burst"))


@probe.handler()
async def tokens(ctx: Context) -> float:
    return await Limiter.from_context(ctx, LIMITER_NAME).tokens()


@probe.handler()
async def allow(ctx: Context, n: int) -> bool:
    return await Limiter.from_context(ctx, LIMITER_NAME).allow(n)


@probe.handler("reserveAndCancel")
async def reserve_and_cancel(ctx: Context, n: int) -> Reservation:
    lim = Limiter.from_context(ctx, LIMITER_NAME)
    reservation = await lim.reserve(n)
    lim.cancel(reservation)
    return reservation


@pytest.fixture(scope="module")
def deployment(restate: RestateBackend) -> Iterator[Deployment]:
    # The pattern's app, and a second deployment with the probe.
    with deployed(restate, app) as deployment, deployed(restate, restate_app([probe])):
        yield deployment


@pytest.fixture
def fresh(deployment: Deployment) -> Deployment:
    """The limiter `myService-expensiveMethod` as before its first use: no state (limit 0, burst 0)."""
    eventually(lambda: busy(deployment) == 0, timeout=30)  # a late cancelReservation would write to it
    reset = http.post(
        f"{deployment.admin_url}/services/limiter/state",
        json={"object_key": LIMITER_NAME, "new_state": {}},
        timeout=10,
    )
    assert reset.is_success, reset.text
    eventually(lambda: stored(deployment) == {}, timeout=10)
    return deployment


def busy(deployment: Deployment) -> int:
    """Invocations of this module's services that have not finished yet."""
    services = "'limiter', 'myService', 'rateLimitProbe'"
    query = (
        f"select count(*) as n from sys_invocation where target_service_name in ({services}) and status != 'completed'"
    )
    count: int = sql(deployment.admin_url, query)[0]["n"]
    return count


def stored(deployment: Deployment) -> dict[str, Any]:
    """The limiter's state as Restate stores it (admin SQL)."""
    return deployment.state("limiter", LIMITER_NAME)


def post(deployment: Deployment, path: str, **kwargs: Any) -> httpx.Response:
    return http.post(f"{deployment.ingress_url}/{path}", timeout=30, **kwargs)


def set_rate(deployment: Deployment, limit: float, burst: int) -> None:
    response = post(deployment, f"limiter/{LIMITER_NAME}/setRate", json={"newLimit": limit, "newBurst": burst})
    assert response.status_code == 200, response.text


def limiter_state(deployment: Deployment) -> dict[str, Any]:
    response = post(deployment, f"limiter/{LIMITER_NAME}/state")
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


def bucket(deployment: Deployment) -> float:
    response = post(deployment, f"limiter/{LIMITER_NAME}/tokens")
    assert response.status_code == 200, response.text
    return float(response.json())


def send(deployment: Deployment) -> str:
    """Start myService/expensiveMethod without waiting for it: its invocation id."""
    sent = post(deployment, "myService/expensiveMethod/send")
    assert sent.status_code == 202, sent.text
    invocation: str = sent.json()["invocationId"]
    return invocation


def cancel(deployment: Deployment, invocation: str) -> None:
    """Cancel an invocation (what `restate inv cancel` does) and see it end as cancelled."""
    cancelled = http.patch(f"{deployment.admin_url}/invocations/{invocation}/cancel", timeout=10)
    assert cancelled.status_code == 202, cancelled.text
    answer = http.get(f"{deployment.ingress_url}/restate/invocation/{invocation}/attach", timeout=30)
    assert (answer.status_code, answer.json()["message"]) == (409, "cancelled")


def expensive(deployment: Deployment) -> tuple[int, float]:
    """Call myService/expensiveMethod; its status code and when it answered (unix seconds)."""
    response = post(deployment, "myService/expensiveMethod")
    return response.status_code, time.time()


def test_before_set_rate_every_call_is_refused_with_429(fresh: Deployment, logs: Logs) -> None:
    response = post(fresh, "myService/expensiveMethod")
    assert response.status_code == 429
    assert response.json()["message"] == "rate: Wait(n=1) would exceed the limiters burst"
    assert stored(fresh) == {}  # a refused reservation takes nothing
    assert limiter_state(fresh) == {"limit": 0, "burst": 0, "tokens": 0, "last": 0, "lastEvent": 0}
    assert logs.count("expensive!") == 0


def test_concurrent_calls_are_spaced_by_the_rate(fresh: Deployment, logs: Logs) -> None:
    start = time.time()
    set_rate(fresh, limit=2, burst=1)  # the bucket starts empty: the k-th call may go k * 0.5 s from now
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: expensive(fresh), range(6)))

    assert [status for status, _ in answers] == [200] * 6
    done = sorted(at for _, at in answers)
    for k, at in enumerate(done, start=1):
        assert at - start >= 0.5 * k - 0.05, f"call {k} answered {at - start:.2f}s after setRate"
    gaps = [later - earlier for earlier, later in zip(done, done[1:], strict=False)]
    assert done[-1] - done[0] >= 2.0, gaps  # 2.5 s ideally
    assert statistics.median(gaps) >= 0.3, gaps  # 0.5 s apart, give or take a late wake-up
    assert logs.count("expensive!") == 6


def test_a_full_bucket_lets_burst_calls_through_at_once(fresh: Deployment, logs: Logs) -> None:
    set_rate(fresh, limit=100, burst=3)
    eventually(lambda: bucket(fresh) == 3, timeout=10)  # full after 30 ms
    set_rate(fresh, limit=0.1, burst=3)  # still full, and slow to refill: a token every 10 s

    with ThreadPoolExecutor(3) as pool:
        assert list(pool.map(lambda _: expensive(fresh)[0], range(3))) == [200] * 3
    assert logs.count("expensive!") == 3
    after_burst = limiter_state(fresh)
    # The last reservation was for the moment it was made (so were the ones before it): nobody waited.
    assert after_burst["lastEvent"] == after_burst["last"], after_burst

    # The burst is used up: the next call waits for a token to refill (about 10 s).
    waiting = send(fresh)
    eventually(lambda: stored(fresh)["state"]["last"] > after_burst["last"], timeout=10)
    queued = stored(fresh)["state"]
    assert queued["lastEvent"] - queued["last"] > 5000, queued
    cancel(fresh, waiting)


def test_a_batch_larger_than_the_burst_is_refused_with_429(fresh: Deployment, logs: Logs) -> None:
    set_rate(fresh, limit=100, burst=5)
    eventually(lambda: bucket(fresh) == 5, timeout=10)
    before = stored(fresh)

    default = post(fresh, "myService/expensiveMethodBatch")  # no body: 20 items
    assert (default.status_code, default.json()["message"]) == (429, "rate: Wait(n=20) would exceed the limiters burst")
    six = post(fresh, "myService/expensiveMethodBatch", json=6)
    assert (six.status_code, six.json()["message"]) == (429, "rate: Wait(n=6) would exceed the limiters burst")
    assert stored(fresh) == before
    assert logs.count("expensive!") == 0

    assert post(fresh, "myService/expensiveMethodBatch", json=5).status_code == 200
    assert logs.count("expensive!") == 5


@pytest.mark.parametrize("limit", [0, 1e-12])  # never refills; refills a token in 30 000 years
def test_a_wait_for_ever_or_for_years_is_refused_with_429(fresh: Deployment, limit: float) -> None:
    set_rate(fresh, limit=limit, burst=1)
    before = stored(fresh)
    response = post(fresh, "myService/expensiveMethod")
    assert (response.status_code, response.json()["message"]) == (
        429,
        "rate: Wait(n=1) would exceed the limiters burst",
    )
    assert stored(fresh) == before


def test_a_call_cancelled_while_waiting_gives_its_tokens_back(fresh: Deployment) -> None:
    set_rate(fresh, limit=0.2, burst=1)  # empty bucket: one call every 5 s from now on

    first = send(fresh)
    first_at = eventually(lambda: stored(fresh)["state"]["lastEvent"], timeout=10)
    second = send(fresh)
    eventually(lambda: stored(fresh)["state"]["lastEvent"] > first_at, timeout=10)
    held = stored(fresh)["state"]
    second_at = held["lastEvent"]
    assert second_at - first_at == pytest.approx(5000, abs=1)  # one token (5 s) later

    cancel(fresh, second)
    # The cancelled call sent cancelReservation on its way out: the limiter has the token back.
    eventually(lambda: stored(fresh)["state"]["tokens"] >= held["tokens"] + 1, timeout=10)
    after_cancel = stored(fresh)["state"]

    third = send(fresh)
    eventually(lambda: stored(fresh)["state"]["last"] > after_cancel["last"], timeout=10)
    third_at = stored(fresh)["state"]["lastEvent"]
    # The next call takes the cancelled call's turn, not the one 5 s after it.
    assert third_at == pytest.approx(second_at, abs=1), (first_at, second_at, third_at)

    cancel(fresh, third)  # (its turn is 10 s after setRate)
    http.patch(f"{fresh.admin_url}/invocations/{first}/cancel", timeout=10)  # unless it has run already


def test_the_limiter_helper_from_a_handler(fresh: Deployment) -> None:
    assert post(fresh, "rateLimitProbe/setRate", json={"limit": 100, "burst": 2}).status_code == 200
    assert limiter_state(fresh)["limit"] == 100 and limiter_state(fresh)["burst"] == 2
    eventually(lambda: post(fresh, "rateLimitProbe/tokens").json() == 2, timeout=10)  # full after 20 ms
    assert post(fresh, "rateLimitProbe/setRate", json={"limit": 0.1}).status_code == 200  # the burst stays
    assert limiter_state(fresh)["burst"] == 2

    assert post(fresh, "rateLimitProbe/allow", json=3).json() is False  # more than the burst
    assert post(fresh, "rateLimitProbe/allow", json=2).json() is True  # takes both tokens
    assert post(fresh, "rateLimitProbe/allow", json=2).json() is False  # would have to wait: takes nothing
    assert stored(fresh)["state"]["tokens"] == 0

    reservation = post(fresh, "rateLimitProbe/reserveAndCancel", json=1).json()
    assert reservation["ok"] and reservation["dateToAct"] > reservation["creationDate"]  # owed, then given back
    # Reserved: a debt of about one token. Cancelled: the token came back, no debt.
    eventually(lambda: stored(fresh)["state"]["last"] > reservation["creationDate"], timeout=10)
    assert stored(fresh)["state"]["tokens"] >= 0


BAD_REQUESTS: list[tuple[str, Any]] = [
    ("limiter/myService-expensiveMethod/setRate", {"newLimit": -1}),
    ("limiter/myService-expensiveMethod/setRate", {"newLimit": "fast"}),
    ("limiter/myService-expensiveMethod/setRate", {"newBurst": 1.5}),
    ("limiter/myService-expensiveMethod/setRate", b'{"newLimit": 1e999}'),  # Infinity
    ("limiter/myService-expensiveMethod/setRate", b"null"),
    ("limiter/myService-expensiveMethod/setRate", None),  # no body
    ("limiter/myService-expensiveMethod/reserve", {"n": 1}),  # only the Limiter helper reserves
    ("limiter/myService-expensiveMethod/cancelReservation", {"ok": True, "tokens": 9, "creationDate": 0}),
    ("myService/expensiveMethodBatch", 0),
    ("myService/expensiveMethodBatch", -3),
    ("myService/expensiveMethodBatch", 2.5),
    ("myService/expensiveMethodBatch", "ten"),
]


def test_bad_requests_get_400_and_change_nothing(fresh: Deployment) -> None:
    set_rate(fresh, limit=1, burst=1)
    before = stored(fresh)
    for path, body in BAD_REQUESTS:
        if isinstance(body, bytes):
            response = post(fresh, path, content=body, headers={"content-type": "application/json"})
        else:
            response = post(fresh, path, json=body)
        assert (response.status_code, bool(response.json()["message"])) == (400, True), (path, body, response.text)
    assert stored(fresh) == before


def test_readme_walkthrough(dev_stack: DevStack) -> None:
    readme = REPO_ROOT / "ratelimit" / "README.md"
    assert dev_stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows
    log = dev_stack.log("ratelimit")
    assert sum("expensive!" in line for line in log) == 1 + 3 + 5  # one call, three calls, a batch of five
