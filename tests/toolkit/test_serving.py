"""`python -m <pattern>` serves on SERVICE_PORT and stops cleanly on SIGTERM and on SIGINT, even after
restate-sdk 1.3 has installed its own SIGTERM handler (on the first call it serves), and without waiting
for invocations that wait on a timer: those are suspended, and resume on the next start."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from patterns.httpclient import http
from patterns.process import ManagedProcess, free_port, http_ok
from patterns.registration import RegistrationError, register
from tests.harness import NativeRestate, RestateBackend, ServiceProcess, eventually, sql, state


@pytest.mark.parametrize("server", ["granian", "hypercorn"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_pattern_process_serves_then_stops_on_signal(
    restate: RestateBackend, signum: signal.Signals, server: str
) -> None:
    port = free_port()
    service = ManagedProcess(
        "durablerpc",
        [sys.executable, "-m", "durablerpc"],
        env={"SERVICE_HOST": "127.0.0.1", "SERVICE_PORT": str(port), "PATTERNS_SERVER": server},
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/health"),
    )
    with service:
        assert register(restate.admin_url, f"http://127.0.0.1:{port}") == ["product"]
        product = f"signal-{server}-{signum.name}-{time.monotonic_ns()}"
        answer = http.post(f"{restate.ingress_url}/product/{product}/reserve", timeout=30)
        assert answer.json() is True  # the SDK has now hooked SIGTERM

        started = time.monotonic()
        service.send_signal(signum)
        returncode = service.wait(15)
        output = "\n".join(service.lines)
        assert returncode == 0, output
        assert time.monotonic() - started < 10
        assert f"Running on http://127.0.0.1:{port}" in output
        assert [line for line in output.splitlines() if "panic" in line.lower()] == []
        assert "refused to gracefully stop" not in output
        assert f"Reserving product {product}" in output


@pytest.mark.parametrize("server", ["granian", "hypercorn"])
def test_stopping_suspends_waiting_invocations_which_resume_on_the_next_start(
    own_restate: NativeRestate, server: str
) -> None:
    knobs = {"PATTERNS_SERVER": server, "PATTERNS_FAILURES": "0", "PATTERNS_DURATION_STATEFULACTORS_TRANSITION": "5s"}
    with ServiceProcess(own_restate, "statefulactors", env=knobs) as service:
        sent = http.post(f"{own_restate.ingress_url}/machineOperator/m1/setUp/send", timeout=30).json()
        eventually(lambda: service.count("Beginning transition of m1 to UP") == 1, timeout=30)

        service.send_signal(signal.SIGTERM)  # while the transition sleeps (a durable timer)
        assert service.wait(15) == 0
        assert service.count("refused to gracefully stop") == 0  # granian did not have to kill its worker
        status = f"select status from sys_invocation where id = '{sent['invocationId']}'"
        assert sql(own_restate.admin_url, status) == [{"status": "suspended"}]

        service.start()
        attach = f"{own_restate.ingress_url}/restate/invocation/{sent['invocationId']}/attach"
        assert http.get(attach, timeout=60).json() == "m1 is now up"
        assert service.count("Beginning transition of m1 to UP") == 1  # resumed from its journal
        assert service.count("Done transitioning m1 to UP") == 1


def test_registration_is_idempotent(restate: RestateBackend) -> None:
    from durablerpc.app import app
    from patterns.serving import BackgroundServer

    with BackgroundServer(app, "127.0.0.1", free_port()) as server:
        assert register(restate.admin_url, server.url) == ["product"]
        assert register(restate.admin_url, server.url) == ["product"]


def test_registration_errors_say_what_went_wrong(restate: RestateBackend) -> None:
    with pytest.raises(RegistrationError, match="registering http://127.0.0.1:1 failed with HTTP"):
        register(restate.admin_url, "http://127.0.0.1:1", timeout=30)
    with pytest.raises(RegistrationError, match="cannot reach the Restate admin API"):
        register(f"http://127.0.0.1:{free_port()}", "http://127.0.0.1:1")


def test_service_process_and_server_survive_kill_and_restart(own_restate: NativeRestate) -> None:
    with ServiceProcess(own_restate, "durablerpc") as service:
        url = f"{own_restate.ingress_url}/product/p-restart/reserve"
        assert http.post(url, timeout=30).json() is True
        service.restart()  # SIGKILL, then the same command on the same port
        own_restate.restart(kill=True)  # SIGKILL the server too; same data dir
        assert http.post(url, timeout=30).json() is False  # the state survived both
        assert service.count("Reserving product p-restart") == 1
        assert service.count("Product already reserved p-restart") == 1
        assert state(own_restate.admin_url, "product", "p-restart") == {"reserved": True}


def test_settled_collector_leaves_the_app_alone_and_still_collects_cycles() -> None:
    """settle_gc (called where an app is served, once it is imported): what was imported is out of every
    collection, young objects are looked at every GC_YOUNG_THRESHOLD allocations, and garbage cycles still go."""
    check = """
import gc, weakref
from patterns.serving import GC_YOUNG_THRESHOLD, settle_gc
import parallelizework.app  # an app, imported as a worker does
settle_gc()
assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()
assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
class Node: pass
a, b = Node(), Node()
a.other, b.other = b, a
gone = weakref.ref(a)
del a, b
alive = [[] for _ in range(2 * GC_YOUNG_THRESHOLD)]  # objects allocated (and kept), as requests make them
assert gone() is None, "a garbage cycle survived"
"""
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
