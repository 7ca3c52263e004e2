"""`python -m patterns dev durablerpc` (what `make dev PATTERNS=durablerpc` runs) brings up the stack; the
durablerpc README walkthrough works against it; Ctrl-C stops every process it started."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from itertools import islice
from pathlib import Path

from patterns import REPO_ROOT
from patterns.dev import free_ports_from
from patterns.process import free_port, port_in_use
from patterns.signing import KEY_FILE
from tests.readme import DevStack, output_blocks
from tests.toolkit.test_signing import unsigned_statuses


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_dev_runner_serves_the_readme_walkthrough_and_stops_everything(tmp_path: Path) -> None:
    stack = DevStack(["durablerpc"], tmp_path)
    try:
        stack.start()
        ready = next(line for line in stack.lines if "==> ready" in line)
        assert re.search(r"ready in [\d.]+s", ready), ready  # about 2 s on an idle 2-core machine: no timing assert
        pids = stack.pids()
        assert set(pids) == {"restate-server", "durablerpc", "durablerpc.api"}
        assert any(f"localhost:{stack.ports['ingress']}/product/product3/reserve" in line for line in stack.lines)

        readme = REPO_ROOT / "durablerpc" / "README.md"
        assert stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows
        # restate-server signs with the key the runner created; the service refuses what it did not sign.
        assert unsigned_statuses(f"http://127.0.0.1:{stack.ports['service']}") == [401, 401]
        assert oct((tmp_path / "data" / KEY_FILE).stat().st_mode & 0o777) == "0o600"

        # The service's log (streamed by the runner) shows one reservation and one refusal of product1.
        service_log = stack.log("durablerpc")
        assert sum("Reserving product product1" in line for line in service_log) == 1
        assert sum("Product already reserved product1" in line for line in service_log) == 1
    finally:
        returncode = stack.stop()

    assert returncode == 0
    assert stack.lines[-1].strip() == "==> stopped"
    assert [line for line in stack.lines if "refused to gracefully stop" in line] == []
    assert [label for label, pid in pids.items() if alive(pid)] == []
    assert [name for name, port in stack.ports.items() if name != "node" and port_in_use(port)] == []


def test_dev_runner_refuses_unknown_patterns() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "patterns", "dev", "nosuchpattern"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "unknown pattern(s) nosuchpattern" in run.stdout


def test_the_runner_counts_past_a_port_that_is_bound_but_not_listening() -> None:
    first = free_port(count=3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", first))  # a connection to it is refused, yet a pattern could not bind it
        assert not port_in_use(first)
        assert list(islice(free_ports_from(first), 2)) == [first + 1, first + 2]
