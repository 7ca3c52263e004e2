"""The duration and failure knobs every pattern uses: upstream defaults, env overrides."""

from __future__ import annotations

from datetime import timedelta

import pytest

from patterns import chaos


def test_durations_default_to_upstream_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATTERNS_TIME_SCALE", raising=False)
    assert chaos.delay("statefulactors.transition", timedelta(seconds=5)) == timedelta(seconds=5)


def test_time_scale_shortens_every_duration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATTERNS_TIME_SCALE", "0.01")
    assert chaos.delay("any.point", timedelta(seconds=5)) == timedelta(milliseconds=50)
    assert chaos.scaled(timedelta(days=1)) == timedelta(minutes=14, seconds=24)


def test_a_named_duration_can_be_set_outright(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATTERNS_TIME_SCALE", "0.01")
    monkeypatch.setenv("PATTERNS_DURATION_PARALLELIZEWORK_SUBTASK", "1s")
    assert chaos.delay("parallelizework.subtask", timedelta(seconds=4)) == timedelta(seconds=1)
    # Read at every use (parsed values are remembered, the environment is not): a change shows at once.
    monkeypatch.setenv("PATTERNS_DURATION_PARALLELIZEWORK_SUBTASK", "250ms")
    assert chaos.delay("parallelizework.subtask", timedelta(seconds=4)) == timedelta(milliseconds=250)
    monkeypatch.delenv("PATTERNS_DURATION_PARALLELIZEWORK_SUBTASK")
    assert chaos.delay("parallelizework.subtask", timedelta(seconds=4)) == timedelta(milliseconds=40)


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("5s", 5), ("2m", 120), ("1h", 3600), ("1d", 86400), ("1.5", 1.5)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert chaos.parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "fast", "5 years", "-1s"])
def test_parse_duration_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        chaos.parse_duration(text)


def test_failure_probability_override(monkeypatch: pytest.MonkeyPatch) -> None:
    point = chaos.FailurePoint("test.point", probability=0.5)
    monkeypatch.setenv("PATTERNS_FAILURES_TEST_POINT", "1")
    assert all(point.should_fail("k") for _ in range(20))
    monkeypatch.setenv("PATTERNS_FAILURES_TEST_POINT", "0")
    assert not any(point.should_fail("k") for _ in range(20))


def test_global_override_and_per_point_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    point = chaos.FailurePoint("test.precedence", probability=0.0)
    monkeypatch.setenv("PATTERNS_FAILURES", "1")
    assert point.should_fail("k")
    monkeypatch.setenv("PATTERNS_FAILURES_TEST_PRECEDENCE", "0")
    assert not point.should_fail("k")


def test_fail_first_n_attempts_per_key(monkeypatch: pytest.MonkeyPatch) -> None:
    point = chaos.FailurePoint("test.first", probability=0.0)
    monkeypatch.setenv("PATTERNS_FAILURES_TEST_FIRST", "first:2")
    assert [point.should_fail("inv-1") for _ in range(4)] == [True, True, False, False]
    assert [point.should_fail("inv-2") for _ in range(3)] == [True, True, False]


def test_seeded_draws_are_reproducible(monkeypatch: pytest.MonkeyPatch) -> None:
    point = chaos.FailurePoint("test.seeded", probability=0.4)
    monkeypatch.setenv("PATTERNS_SEED", "7")
    first = [point.should_fail("k") for _ in range(50)]
    monkeypatch.setenv("PATTERNS_SEED", "8")
    monkeypatch.setenv("PATTERNS_SEED", "7")
    chaos._rng = None  # start the seeded sequence again, as a new process would
    assert [point.should_fail("k") for _ in range(50)] == first
    assert 5 < first.count(True) < 40  # and it really draws with the default probability


def test_camel_model_speaks_camel_case_and_accepts_snake_case() -> None:
    from restate.serde import PydanticJsonSerde

    from patterns.wire import CamelModel

    class Flight(CamelModel):
        flight_id: str

    serde: PydanticJsonSerde[Flight] = PydanticJsonSerde(Flight)
    assert serde.serialize(Flight(flight_id="f1")) == b'{"flightId":"f1"}'
    assert serde.deserialize(b'{"flightId":"f2"}') == Flight(flight_id="f2")
    assert serde.deserialize(b'{"flight_id":"f3"}') == Flight(flight_id="f3")


def test_a_named_duration_is_upstream_scaled_or_set(monkeypatch: pytest.MonkeyPatch) -> None:
    work = chaos.Duration("test.work", timedelta(seconds=5))
    monkeypatch.delenv("PATTERNS_TIME_SCALE", raising=False)
    assert work.get() == timedelta(seconds=5)
    assert work.get(timedelta(seconds=2)) == timedelta(seconds=2)  # a computed default, scaled the same way
    monkeypatch.setenv("PATTERNS_TIME_SCALE", "0.1")
    assert work.get() == timedelta(milliseconds=500)
    monkeypatch.setenv("PATTERNS_DURATION_TEST_WORK", "20ms")
    assert work.get() == work.get(timedelta(days=1)) == timedelta(milliseconds=20)


def test_a_chance_is_not_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    slow = chaos.Chance("test.slow", probability=1)
    monkeypatch.setenv("PATTERNS_FAILURES", "0")  # no failures: something that is merely slow still is
    assert slow.happens("k")
    monkeypatch.setenv("PATTERNS_CHANCE_TEST_SLOW", "first:1")
    assert [slow.happens("k2") for _ in range(3)] == [True, False, False]
    monkeypatch.setenv("PATTERNS_CHANCE_TEST_SLOW", "0")
    assert not slow.happens("k")


def test_an_amount_is_drawn_unless_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    balance = chaos.Amount("test.balance")
    monkeypatch.delenv("PATTERNS_AMOUNT_TEST_BALANCE", raising=False)
    assert balance.fixed() is None
    monkeypatch.setenv("PATTERNS_AMOUNT_TEST_BALANCE", "100000")
    assert balance.fixed() == 100_000
