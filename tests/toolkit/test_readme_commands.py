"""Every command a README shows is run by a test, or is marked as a long-running process (```shell start,
which the dev runner stands in for) or as needing a real external service (```shell no-run (reason))."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from patterns import REPO_ROOT
from tests.readme import NPX_SHIM, blocks, steps
from tests.toolkit.test_readme_links import READMES

TEST_SOURCES = "\n".join(p.read_text() for p in (REPO_ROOT / "tests").glob("**/test_*.py"))


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_readme_commands_are_run_by_a_test(readme: Path) -> None:
    runnable = [step for step in steps(readme) if not step.start]
    if runnable:
        run_by = 'REPO_ROOT / "README.md"' if readme.parent == REPO_ROOT else f'"{readme.parent.name}" / "README.md"'
        assert run_by in TEST_SOURCES, f"no test runs the walkthrough of {readme}"
    for block in blocks(readme.read_text()):
        if block.info[:1] == ("shell",) and "no-run" in block.info:
            reason = " ".join(block.info[block.info.index("no-run") + 1 :])
            assert reason.startswith("(") and reason.endswith(")"), f"line {block.line}: no-run needs (a reason)"


def test_a_mermaid_diagram_is_neither_run_nor_compared(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("```shell\necho hi\n```\n```mermaid\nflowchart LR\n  a --> b\n```\n```text output\nhi\n```\n")
    [step] = steps(readme)
    assert step.commands == ("echo hi",) and step.expected is None  # the diagram is not its output


def test_the_walkthroughs_npx_runs_what_the_real_npx_runs() -> None:
    """The walkthroughs run `npx restate …` through tests/bin/npx (npm's start skipped): the same binaries as
    the real npx, which runs here once for each package the READMEs call through it."""
    for package in ("restate", "restate-server"):
        real = subprocess.run(["npx", package, "--version"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        shim = subprocess.run([NPX_SHIM, package, "--version"], capture_output=True, text=True, timeout=60)
        assert real.returncode == shim.returncode == 0, real.stderr + shim.stderr
        assert real.stdout == shim.stdout != ""
    # Anything else (an npx option, a package not installed here) is the real npx's.
    assert subprocess.run([NPX_SHIM, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
