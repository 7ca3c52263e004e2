"""Read the walkthrough of a README and run it against a running stack.

Convention (kept small so the Markdown stays plain for readers):
- a fenced ```shell block holds commands a reader types, one per line (`#` comments allowed);
- ```shell start marks long-running processes (`restate-server`, `python -m <pattern>`): the test brings
  the stack up itself instead (with the dev runner);
- a block whose info string contains `output` (```json output, ```text output) is the expected
  output of the shell block right before it: all its commands' stdout, in order.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^(\s*)```(.*)$")


@dataclass(frozen=True)
class Block:
    info: tuple[str, ...]
    text: str
    line: int


@dataclass(frozen=True)
class Step:
    commands: tuple[str, ...]
    expected: str | None
    line: int
    start: bool  # a long-running process, not run by the walkthrough test


def blocks(markdown: str) -> list[Block]:
    found, lines, i = [], markdown.splitlines(), 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, info, start = len(match[1]), tuple(match[2].split()), i
        body = []
        i += 1
        while i < len(lines) and not FENCE.match(lines[i]):
            line = lines[i]
            body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())  # list-item indent
            i += 1
        found.append(Block(info, "\n".join(body), start + 1))
        i += 1
    return found


def steps(readme: Path) -> list[Step]:
    found = blocks(readme.read_text())
    result = []
    for index, block in enumerate(found):
        if not block.info or block.info[0] not in ("shell", "sh", "bash"):
            continue
        commands = tuple(
            line.strip() for line in block.text.splitlines() if line.strip() and not line.strip().startswith("#")
        )
        following = found[index + 1] if index + 1 < len(found) else None
        expected = following.text if following and "output" in following.info else None
        result.append(Step(commands, expected, block.line, "start" in block.info))
    return result


def rewrite(command: str, ports: Mapping[int, str]) -> str:
    """Point the default host:ports of a README command at the test stack."""
    for port, target in ports.items():
        command = re.sub(rf"\blocalhost:{port}\b", target, command)
    return command


def normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip()


def run_step(step: Step, ports: Mapping[int, str], env: Mapping[str, str], cwd: Path) -> str:
    """Run a step's commands (in a shell, from `cwd`) and return their joined stdout."""
    outputs = []
    for command in step.commands:
        result = subprocess.run(
            ["bash", "-c", rewrite(command, ports)],
            cwd=cwd,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"README line {step.line}: {command!r} failed:\n{result.stderr}"
        outputs.append(result.stdout.strip("\n"))
    return "\n".join(outputs)
