"""Every relative link in every README points at a file or folder that exists (no dead links)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from patterns import REPO_ROOT

LINK = re.compile(r"\]\(([^)\s]+)\)")
READMES = sorted(
    p
    for p in REPO_ROOT.glob("**/README.md")
    if not any(part == "node_modules" or part.startswith(".") for part in p.relative_to(REPO_ROOT).parts)
)


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_resolve(readme: Path) -> None:
    dead = []
    for target in LINK.findall(readme.read_text()):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # web links and anchors
        path = (readme.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            dead.append(target)
    assert dead == []


def test_every_pattern_is_in_the_root_catalogue() -> None:
    from patterns.catalogue import pattern_names

    root = (REPO_ROOT / "README.md").read_text()
    missing = [name for name in pattern_names() if f"]({name}/README.md)" not in root]
    assert missing == []
