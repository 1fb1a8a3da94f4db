"""The one retry helper: attempts, time budget, jitter, server delay, permanent failures."""

from __future__ import annotations

import pytest

from qbpa_assets.lib import retry
from qbpa_assets_tests.fixtures.clock import FakeClock


class Transient(Exception):
    pass


class Auth(Exception):
    pass


def failing(times: int, exc: type[Exception] = Transient):
    state = {"calls": 0}

    def fn() -> str:
        state["calls"] += 1
        if state["calls"] <= times:
            raise exc(f"failure {state['calls']}")
        return "ok"

    return fn, state


def test_succeeds_after_transient_failures():
    clock = FakeClock()
    fn, state = failing(2)
    policy = retry.Backoff(attempts=3, base=1.0, jitter=0.0)
    result = retry.call(fn, lambda e: policy, sleep=clock.sleep, clock=clock)
    assert result == "ok" and state["calls"] == 3
    assert clock.sleeps == [1.0, 2.0]  # exponential


def test_attempts_exhausted_raises_the_last_failure():
    clock = FakeClock()
    fn, state = failing(10)
    policy = retry.Backoff(attempts=3, base=0.1)
    with pytest.raises(Transient, match="failure 3"):
        retry.call(fn, lambda e: policy, sleep=clock.sleep, clock=clock)
    assert state["calls"] == 3 and len(clock.sleeps) == 2


def test_budget_keeps_trying_for_at_least_the_budget():
    clock = FakeClock()
    fn, state = failing(10_000)
    policy = retry.Backoff(attempts=None, budget=90.0, base=0.5, cap=20.0)
    seen: list[retry.Failure] = []
    with pytest.raises(Transient):
        retry.call(
            fn,
            lambda e: policy,
            sleep=clock.sleep,
            clock=clock,
            on_give_up=lambda f: seen.append(f),
        )
    assert sum(clock.sleeps) >= 90.0
    assert sum(clock.sleeps) < 90.0 + 20.0  # the last wait started before the budget ran out
    assert max(clock.sleeps) <= 20.0
    assert seen[0].tries == state["calls"] and not seen[0].permanent


def test_server_delay_is_honoured_and_capped():
    clock = FakeClock()
    fn, _ = failing(2)
    policy = retry.Backoff(attempts=5, base=0.1, jitter=0.0, server_cap=30.0)
    delays = iter([7.0, 500.0])
    retry.call(
        fn,
        lambda e: policy,
        server_delay=lambda e: next(delays),
        sleep=clock.sleep,
        clock=clock,
    )
    assert clock.sleeps == [7.0, 30.0]


def test_jitter_spreads_the_wait_below_the_computed_delay():
    policy = retry.Backoff(attempts=5, base=4.0, jitter=0.5)
    assert policy.delay(1, rng=0.0) == 4.0
    assert policy.delay(1, rng=0.999) == pytest.approx(2.002)
    assert policy.delay(3, rng=0.0) == 16.0


def test_permanent_and_never_are_not_retried():
    clock = FakeClock()
    fn, state = failing(5)
    with pytest.raises(Transient):
        retry.call(fn, lambda e: None, sleep=clock.sleep, clock=clock)
    assert state["calls"] == 1 and clock.sleeps == []

    fn, state = failing(5, Auth)
    always = retry.Backoff(attempts=10)
    with pytest.raises(Auth):
        retry.call(fn, lambda e: always, never=(Auth,), sleep=clock.sleep, clock=clock)
    assert state["calls"] == 1 and clock.sleeps == []


def test_give_up_replaces_the_error_without_its_chain():
    clock = FakeClock()
    fn, _ = failing(5)
    policy = retry.Backoff(attempts=2, base=0.0)
    with pytest.raises(RuntimeError, match="gave up after 2") as info:
        retry.call(
            fn,
            lambda e: policy,
            on_give_up=lambda f: RuntimeError(f"gave up after {f.tries}"),
            sleep=clock.sleep,
            clock=clock,
        )
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_each_kind_has_its_own_backoff():
    clock = FakeClock()
    errors = iter([KeyError("x"), KeyError("x"), ValueError("y")])

    def fn() -> None:
        raise next(errors)

    short = retry.Backoff(attempts=2, base=0.0)
    long = retry.Backoff(attempts=10, base=0.0)
    with pytest.raises(KeyError):
        retry.call(
            fn,
            lambda e: long if isinstance(e, ValueError) else short,
            clock=clock,
            sleep=clock.sleep,
        )


def test_a_backoff_needs_a_limit():
    with pytest.raises(ValueError):
        retry.Backoff(attempts=None, budget=None)
