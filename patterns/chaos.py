"""Durations and failure injection: upstream behaviour by default, short and deterministic on request.

Every pattern that sleeps or fails on purpose goes through this module, so a test (or a curious user)
can change the pace and the failures without editing code:

| variable                          | example         | effect                                               |
|-----------------------------------|-----------------|------------------------------------------------------|
| PATTERNS_TIME_SCALE               | 0.01            | every duration is multiplied by it (5 s -> 50 ms)    |
| PATTERNS_DURATION_<POINT>         | 200ms           | sets one duration outright (units: ms s m h d)       |
| PATTERNS_FAILURES                 | 0               | overrides every failure point                        |
| PATTERNS_FAILURES_<POINT>         | first:2         | overrides one failure point                          |
| PATTERNS_SEED                     | 42              | seeds the probability draws (reproducible runs)      |

A failure spec is a probability (`0` never, `0.4`, `1` always) or `first:N`: fail the first N attempts of
every invocation (or whatever key the caller passes), then succeed.
`<POINT>` is the point's name upper-cased with `.` and `-` turned into `_`: `sagas.payment` ->
`PATTERNS_FAILURES_SAGAS_PAYMENT`.
"""

from __future__ import annotations

import os
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def _env_name(prefix: str, point: str) -> str:
    return prefix + re.sub(r"[^0-9A-Za-z]", "_", point).upper()


def parse_duration(text: str) -> timedelta:
    """Parse `500ms`, `5s`, `2m`, `1h`, `1d` or a bare number of seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 5s, 2m, 1h, 1d)")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2] or "s"])


def time_scale() -> float:
    raw = os.environ.get("PATTERNS_TIME_SCALE", "").strip()
    if not raw:
        return 1.0
    scale = float(raw)
    if scale < 0:
        raise ValueError(f"PATTERNS_TIME_SCALE must not be negative, got {raw!r}")
    return scale


def scaled(duration: timedelta) -> timedelta:
    """`duration` multiplied by PATTERNS_TIME_SCALE (for random or computed durations)."""
    return duration * time_scale()


def delay(point: str, default: timedelta) -> timedelta:
    """The duration of a named point: PATTERNS_DURATION_<POINT> if set, else the scaled default."""
    raw = os.environ.get(_env_name("PATTERNS_DURATION_", point), "").strip()
    return parse_duration(raw) if raw else scaled(default)


_lock = threading.Lock()
_attempts: Counter[tuple[str, str]] = Counter()
_rng: random.Random | None = None
_rng_seed: str | None = None


def _draw() -> float:
    global _rng, _rng_seed
    seed = os.environ.get("PATTERNS_SEED")
    with _lock:
        if _rng is None or seed != _rng_seed:
            _rng, _rng_seed = random.Random(seed), seed
        return _rng.random()


@dataclass(frozen=True)
class FailurePoint:
    """A place where a pattern fails on purpose, `probability` of the time by default (as upstream)."""

    name: str
    probability: float

    def spec(self) -> str:
        own = os.environ.get(_env_name("PATTERNS_FAILURES_", self.name), "").strip()
        return own or os.environ.get("PATTERNS_FAILURES", "").strip() or str(self.probability)

    def should_fail(self, key: str) -> bool:
        """Decide for one attempt; `key` identifies the invocation (e.g. `ctx.request().id`)."""
        spec = self.spec()
        if spec.startswith("first:"):
            limit = int(spec.removeprefix("first:"))
            with _lock:
                _attempts[(self.name, key)] += 1
                return _attempts[(self.name, key)] <= limit
        probability = float(spec)
        if probability <= 0:
            return False
        return probability >= 1 or _draw() < probability
