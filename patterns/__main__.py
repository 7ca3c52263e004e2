"""`python -m patterns list | dev [PATTERN ...] | register URL | identity-key`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from patterns import REPO_ROOT, dev, signing
from patterns.catalogue import load_patterns, resolve_collisions
from patterns.registration import RegistrationError, register
from patterns.settings import settings


def list_patterns() -> int:
    patterns = load_patterns()
    _, left_out = resolve_collisions(patterns)
    clashes = {c.pattern: c for c in left_out}
    for pattern in patterns:
        services = ", ".join(f"{s.name} ({', '.join(h.name for h in s.handlers)})" for s in pattern.services)
        clash = clashes.get(pattern.name)
        note = f"  [shares {', '.join(clash.services)} with {clash.taken_by}: served alone]" if clash else ""
        print(f"{pattern.name:<22} {services}{note}")
    return 0


def register_url(url: str) -> int:
    admin = settings().admin_url
    try:
        services = register(admin, url.rstrip("/") if "://" in url else f"http://{url}")
    except RegistrationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"registered {url} with {admin}: {', '.join(services)}")
    return 0


def identity_key(base_dir: Path) -> int:
    """Print the public key of the request-signing key (created first if missing), for PATTERNS_IDENTITY_KEYS."""
    print(signing.public_key(signing.ensure_key(base_dir / signing.KEY_FILE)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m patterns", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the patterns and their services")
    dev.add_arguments(commands.add_parser("dev", help="run restate-server and serve the patterns"))
    reg = commands.add_parser("register", help="register a deployment (force) with RESTATE_ADMIN_URL")
    reg.add_argument("url", help="e.g. localhost:9080")
    key = commands.add_parser("identity-key", help=f"print the public key of .restate/{signing.KEY_FILE} (creates it)")
    key.add_argument("--base-dir", type=Path, default=REPO_ROOT / ".restate", help="where the key lives")
    args = parser.parse_args(argv)
    if args.command == "list":
        return list_patterns()
    if args.command == "register":
        return register_url(args.url)
    if args.command == "identity-key":
        return identity_key(args.base_dir)
    return dev.main(args)


if __name__ == "__main__":
    sys.exit(main())
