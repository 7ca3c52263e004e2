"""`make dev NODES=3` (`python -m patterns dev --nodes 3`): a three-node cluster with every node's URLs printed;
the README's "Running on a Restate cluster" walkthrough works against it; a killed node is reported while the
others go on; Ctrl-C stops every node by its PID."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from patterns import REPO_ROOT
from patterns.cluster import FAST_RECOVERY
from patterns.process import port_in_use
from patterns.restate_server import SMALL
from tests.readme import DevStack, output_blocks
from tests.toolkit.test_dev_runner import alive

pytestmark = pytest.mark.cluster


def start_on_free_ports(tmp_path: Path) -> DevStack:
    """The runner on ports that were free a moment ago (the ports count up from three free ones); on a clash
    DevStack.start starts it again on other ones."""
    return DevStack(["durablerpc"], tmp_path, env={**SMALL, **FAST_RECOVERY}, nodes=3).start(timeout=120)


def test_dev_runner_on_three_nodes_serves_the_readme_cluster_walkthrough(tmp_path: Path) -> None:
    stack = start_on_free_ports(tmp_path)
    try:
        pids = stack.pids()
        assert set(pids) == {"n1", "n2", "n3", "durablerpc", "durablerpc.api"}
        for i in range(3):
            ingress, admin = stack.ports["ingress"] + i, stack.ports["admin"] + i
            line = f"n{i + 1}: ingress http://127.0.0.1:{ingress}  admin http://127.0.0.1:{admin}"
            assert any(line in printed for printed in stack.lines), line

        readme = REPO_ROOT / "README.md"
        assert stack.run_walkthrough(readme) == output_blocks(readme)  # every output it shows

        os.kill(pids["n3"], signal.SIGKILL)  # a crash: reported, and the runner goes on with the others
        stack.wait_for("!!! n3 exited", timeout=10)
        assert stack.running
    finally:
        returncode = stack.stop()

    assert returncode == 0
    assert stack.lines[-1].strip() == "==> stopped"
    assert [label for label, pid in pids.items() if alive(pid)] == []
    ports = [stack.ports[name] + i for name in ("ingress", "admin", "node") for i in range(3)]
    assert [port for port in ports if port_in_use(port)] == []
