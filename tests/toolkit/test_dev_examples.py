"""What a new user sees after `make dev`: every example call it prints works when pasted on a fresh stack
(in the order printed), none leaves an invocation retrying, the Restate UI it points at answers, and
stopping leaves no worker killed for refusing to stop."""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from patterns.catalogue import load_patterns, resolve_collisions
from patterns.httpclient import http
from patterns.process import free_port
from tests.harness import eventually, sql
from tests.readme import DevStack


def left_out() -> list[str]:
    """The patterns `make dev` leaves out (their service names are taken): a user starts them alone."""
    return sorted(collision.pattern for collision in resolve_collisions(load_patterns())[1])


EXAMPLE = re.compile(r"^  (\S+)\s+(\S+)\s+(\S+)\s+(curl .*)$")  # PATTERN SERVICE HANDLER EXAMPLE
UI = re.compile(r"Restate UI: (http://\S+/ui/)")


def examples(lines: list[str]) -> list[str]:
    return [match[4] for line in lines if (match := EXAMPLE.match(line))]


def paste(command: str) -> tuple[int, str]:
    """Run a printed line as a shell would; the HTTP status (curl's last -w wins) and the body."""
    assert shlex.split(command)[0] == "curl"
    result = subprocess.run(
        ["bash", "-c", f"{command} -sS -w '\\n%{{http_code}}'"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"{command}\n{result.stderr}"
    body, _, status = result.stdout.rpartition("\n")
    return int(status), body


def nothing_retrying(admin_url: str) -> None:
    """No invocation is backing off (failing and retried by Restate): every call left nothing stuck."""
    query = "SELECT id, target, status, last_failure FROM sys_invocation WHERE status = 'backing-off'"
    assert sql(admin_url, query) == []


@pytest.mark.timeout(360)  # 15 patterns, Kafka, PostgreSQL and localstripe start on a busy 2-core machine
@pytest.mark.parametrize("group", ["default", "left out"])  # between them, every pattern
def test_every_printed_example_works_when_pasted(group: str, tmp_path: Path) -> None:
    env = {
        "PATTERNS_FAILURES": "0",  # the injected failures (a saga's rejected payment) are the README's to show
        "PATTERNS_TIME_SCALE": "0.02",  # simulated work of seconds takes a few ms
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "LOCALSTRIPE_PORT": str(free_port()),
        "DATABASE_URL": f"postgres://restatedb:restatedb@localhost:{free_port()}/exampledb",
    }
    stack = DevStack(left_out() if group == "left out" else [], tmp_path, env=env)
    try:
        stack.start(timeout=180)
        calls = examples(stack.lines)
        assert calls, "\n".join(stack.lines)
        assert not [call for call in calls if "'null'" in call]  # examples, not guesses
        # The printed host is this stack's ingress, not 8080: the lines are pasted as printed.
        assert all(f"localhost:{stack.ports['ingress']}/" in call for call in calls)

        failed = []
        for call in calls:
            status, body = paste(call)
            if not 200 <= status < 300:
                failed.append(f"{status} {call}\n    {body}")
        assert failed == []

        admin_url = f"http://127.0.0.1:{stack.ports['admin']}"
        eventually(lambda: nothing_retrying(admin_url), timeout=30, interval=0.5)

        [ui] = [match[1] for line in stack.lines if (match := UI.search(line))]
        assert ui == f"http://localhost:{stack.ports['admin']}/ui/"
        response = http.get(ui, timeout=10)
        assert response.status_code == 200 and "<html" in response.text.lower()
    finally:
        stopping = len(stack.lines)
        started = time.monotonic()
        returncode = stack.stop()
        took = time.monotonic() - started
    assert returncode == 0
    killed = [line for line in stack.lines if "refused to gracefully stop" in line]
    assert killed == [], f"stopped in {took:.1f}s:\n" + "\n".join(stack.lines[stopping:])
