"""Durations, odds and injected failures: upstream behaviour by default, short and deterministic on request.

Each pattern names its knobs once, in its simulated-dependency module (`stubs.py`, `utils.py`), as values of
the types below; handlers call plain functions and never read the environment. A test (or a curious user)
changes the pace, the odds and the failures through the environment, without editing code:

| variable                    | example  | effect                                                        |
|-----------------------------|----------|---------------------------------------------------------------|
| PATTERNS_TIME_SCALE         | 0.01     | every `Duration` is multiplied by it (5 s -> 50 ms)           |
| PATTERNS_DURATION_<NAME>    | 200ms    | sets one `Duration` outright (units: ms s m h d)              |
| PATTERNS_FAILURES           | 0        | overrides every `FailurePoint`                                |
| PATTERNS_FAILURES_<NAME>    | first:2  | overrides one `FailurePoint`                                  |
| PATTERNS_CHANCE_<NAME>      | 1        | overrides one `Chance` (something that is not a failure)      |
| PATTERNS_AMOUNT_<NAME>      | 100000   | fixes one `Amount` (a number drawn at random by default)      |
| PATTERNS_SEED               | 42       | seeds the probability draws (reproducible runs)               |

A probability spec is a number (`0` never, `0.4`, `1` always) or `first:N`: true for the first N draws of
every invocation (or whatever key the caller passes), then false.
`<NAME>` is the knob's name upper-cased with `.` and `-` turned into `_`: `sagas.payment.terminal` ->
`PATTERNS_FAILURES_SAGAS_PAYMENT_TERMINAL`. Values are read at every use, so a test can change them while
a service runs in its process.
"""

from __future__ import annotations

import os
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from functools import cache, lru_cache

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


@cache  # a few knobs, asked for on every use: the name is worked out once
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


# The environment is read at every use; a value seen before is not parsed again (a subtask asks once each).
_parsed_duration = lru_cache(maxsize=64)(parse_duration)


def delay(point: str, default: timedelta) -> timedelta:
    """The duration of a named point: PATTERNS_DURATION_<POINT> if set, else the scaled default."""
    raw = os.environ.get(_env_name("PATTERNS_DURATION_", point), "").strip()
    return _parsed_duration(raw) if raw else scaled(default)


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


def _spec_is_true(name: str, spec: str, key: str) -> bool:
    if spec.startswith("first:"):
        limit = int(spec.removeprefix("first:"))
        with _lock:
            _attempts[(name, key)] += 1
            return _attempts[(name, key)] <= limit
    probability = float(spec)
    if probability <= 0:
        return False
    return probability >= 1 or _draw() < probability


@dataclass(frozen=True)
class Duration:
    """How long something takes or waits: `default` as upstream, PATTERNS_DURATION_<NAME> sets it,
    PATTERNS_TIME_SCALE scales it."""

    name: str
    default: timedelta

    def get(self, default: timedelta | None = None) -> timedelta:
        """The duration now; `default` replaces this knob's own (e.g. a duration drawn at random)."""
        return delay(self.name, self.default if default is None else default)


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
        return _spec_is_true(self.name, self.spec(), key)


@dataclass(frozen=True)
class Chance:
    """Something a simulated dependency does part of the time that is not a failure (an upload is slow, a
    check is still pending): `probability` by default, PATTERNS_CHANCE_<NAME> overrides it.
    PATTERNS_FAILURES leaves it alone."""

    name: str
    probability: float

    def spec(self) -> str:
        return os.environ.get(_env_name("PATTERNS_CHANCE_", self.name), "").strip() or str(self.probability)

    def happens(self, key: str) -> bool:
        """Decide once; `key` groups the draws that `first:N` counts."""
        return _spec_is_true(self.name, self.spec(), key)


@dataclass(frozen=True)
class Amount:
    """A number a simulated dependency makes up at random (e.g. a new account's balance): PATTERNS_AMOUNT_<NAME>
    fixes it."""

    name: str

    def fixed(self) -> int | None:
        """The configured value, or None: then draw it as upstream does."""
        raw = os.environ.get(_env_name("PATTERNS_AMOUNT_", self.name), "").strip()
        return int(raw) if raw else None
