"""Signed requests (Restate's request identity): only restate-server may invoke a handler.

restate-server signs every request it sends to a deployment with an ed25519 private key; a service that
knows the public key answers 401 to anything unsigned or signed with another key, so a frame sent
straight to a service port (bypassing Restate, its journal and its idempotency) runs nothing.

- the key: `ensure_key(path)` creates an ed25519 key in PEM on first use (`.restate/request-identity.pem` for
  the dev runner); `public_key(path)` is its public half as the services want it, `publickeyv1_<base58>`;
- restate-server: `server_settings(path)` is the environment variable that makes it sign;
- services: `PATTERNS_IDENTITY_KEYS` (comma-separated public keys, several while a key is rotated) makes
  `patterns.serving` wrap every Restate endpoint in `verifying()`, the SDK's own verifier. Unset: no check.

`python -m patterns identity-key` prints the public key (creating the key first if needed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from restate.server import IdentityVerificationException, PyIdentityVerifier, send_status  # the SDK's own verifier
from restate.server_types import binary_to_header

SERVER_KEY_ENV = "RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE"
KEYS_ENV = "PATTERNS_IDENTITY_KEYS"
KEY_FILE = "request-identity.pem"
KEY_PREFIX = "publickeyv1_"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # Bitcoin's alphabet, as Restate uses


def ensure_key(path: Path) -> Path:
    """The ed25519 private key at `path` (PEM, PKCS#8), created (readable by its owner only) if missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        try:  # all at once, and never over a key created meanwhile (two first starts at the same time)
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path


def public_key(path: Path) -> str:
    """`publickeyv1_` + base58 of the raw 32-byte public key: what restate-server logs as the key's `kid`."""
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an ed25519 private key")
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return KEY_PREFIX + base58(raw)


def base58(data: bytes) -> str:
    number, digits = int.from_bytes(data, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        digits = _BASE58[digit] + digits
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + digits


def server_settings(path: Path) -> dict[str, str]:
    """restate-server's environment to sign with the key at `path` (the same for every node of a cluster)."""
    return {SERVER_KEY_ENV: str(path.resolve())}


def service_env(path: Path) -> dict[str, str]:
    """A service's environment to verify requests signed with the key at `path`."""
    return {KEYS_ENV: public_key(path)}


def parse_keys(raw: str) -> tuple[str, ...]:
    """`PATTERNS_IDENTITY_KEYS`: comma-separated `publickeyv1_…` keys (blank: none)."""
    keys = tuple(key.strip() for key in raw.split(",") if key.strip())
    wrong = [key for key in keys if not key.startswith(KEY_PREFIX)]
    if wrong:
        raise ValueError(f"{KEYS_ENV} takes keys like {KEY_PREFIX}…, got {', '.join(map(repr, wrong))}")
    return keys


def verifying(app: Any, keys: Sequence[str]) -> Any:
    """A Restate endpoint (ASGI) that answers 401 to every request not signed with one of `keys`, checked by
    the SDK's own verifier as `restate.app(..., identity_keys=keys)` would; `/health` stays open."""
    if not keys:
        return app
    verifier = PyIdentityVerifier(list(keys))

    async def verified(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].endswith("/health"):
            try:
                verifier.verify(binary_to_header(scope["headers"]), scope["path"])
            except IdentityVerificationException:
                await send_status(send, receive, 401)
                return
        await app(scope, receive, send)

    return verified
