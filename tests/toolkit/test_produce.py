"""`python -m patterns.produce`: bad lines are reported and skipped, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from patterns.produce import produce
from patterns.restate_server import REPO_ROOT, free_port


def test_lines_that_are_not_utf8_or_have_no_key_are_reported_and_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    # No record is valid, so nothing is sent: the (unreachable) broker is never needed.
    assert produce("topic", [b"\xff\xfe:value\n", b"no separator\n", b"\n"], f"127.0.0.1:{free_port()}") == (0, 2)
    errors = capsys.readouterr().err
    assert "line 1: not UTF-8 text (invalid start byte at byte 0)" in errors
    assert "line 2: no key separator ':' found" in errors


def test_the_command_survives_non_utf8_input() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "patterns.produce", "topic", "--bootstrap-server", f"127.0.0.1:{free_port()}"],
        input=b"key:\xc3\x28\n",
        capture_output=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 1
    assert b"Traceback" not in result.stderr
    assert b"line 1: not UTF-8 text" in result.stderr
    assert b"Produced 0 records to topic" in result.stdout
