"""The one retry-with-backoff helper (QuickBooks client, transfers, ODBC, alerts, DuckDB lock).

A caller states two things: which failures are worth another try (a *classifier* that maps an
exception to the :class:`Backoff` for its kind, or ``None`` for "permanent"), and what to do
between tries (``on_retry``, e.g. close a broken connection and log). :func:`call` does the
rest: exponential backoff with jitter (parallel workers must not retry in step), an honoured
server delay such as ``Retry-After``, an attempt count and/or a time budget, and a clear end.

Failures named in ``never`` are raised at once whatever the classifier says: authentication and
host-key failures cannot be fixed by retrying, and repeated bad logins may lock the account.

The clock and the sleep are parameters, so a test can check a 90-second budget against real
server answers without waiting 90 seconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """How to keep retrying one kind of failure.

    The call stops retrying when any limit that is set is reached: ``attempts`` tries in total
    (the first one included), or ``budget`` seconds since the first try.

    Attributes:
        attempts: Tries in total, or ``None`` for "as many as the budget allows".
        budget: Seconds since the first try after which no new try starts, or ``None``.
        base: Delay before the second try; multiplied by ``factor`` before each further one.
        cap: Longest computed delay.
        factor: Growth of the delay per try.
        jitter: Fraction of the delay drawn at random: the wait lies in
            ``[delay * (1 - jitter), delay]``.
        server_cap: Longest server-requested delay (``Retry-After``) that is honoured.
    """

    attempts: int | None = 3
    budget: float | None = None
    base: float = 0.5
    cap: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    server_cap: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts is None and self.budget is None:
            raise ValueError("a Backoff needs attempts, a budget, or both")
        if self.attempts is not None and self.attempts < 1:
            raise ValueError("attempts must be at least 1")

    def delay(self, failures: int, server_delay: float | None = None, rng: float = 1.0) -> float:
        """Seconds to wait after the ``failures``-th failed try.

        Args:
            failures: Failed tries so far (1 after the first).
            server_delay: Delay the server asked for, honoured up to ``server_cap``.
            rng: A number in ``[0, 1)`` choosing the point within the jitter range.
        """
        computed = min(self.cap, self.base * self.factor ** (failures - 1))
        computed *= 1.0 - self.jitter * rng
        if server_delay is not None and server_delay > 0:
            computed = max(computed, min(server_delay, self.server_cap))
        return computed

    def exhausted(self, tries: int, elapsed: float) -> bool:
        """Whether no further try may start after ``tries`` tries and ``elapsed`` seconds."""
        if self.attempts is not None and tries >= self.attempts:
            return True
        return self.budget is not None and elapsed >= self.budget


@dataclass(frozen=True)
class Failure:
    """One failed try, as reported to ``on_retry`` and ``on_give_up``.

    Attributes:
        error: The exception of the try.
        tries: Tries made so far, this one included.
        elapsed: Seconds since the first try started.
        delay: Seconds about to be waited (0 when giving up).
        permanent: The failure was not retriable at all (as opposed to retries exhausted).
    """

    error: BaseException
    tries: int
    elapsed: float
    delay: float = 0.0
    permanent: bool = False


Classifier = Callable[[BaseException], Backoff | None]


def call(
    fn: Callable[[], T],
    classify: Classifier,
    *,
    never: tuple[type[BaseException], ...] = (),
    server_delay: Callable[[BaseException], float | None] | None = None,
    on_retry: Callable[[Failure], None] | None = None,
    on_give_up: Callable[[Failure], BaseException | None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: Callable[[], float] = random.random,
) -> T:
    """Run ``fn`` until it succeeds, a failure is permanent, or its backoff is exhausted.

    Args:
        fn: The operation; it is called again from the start on each try.
        classify: Maps a failure to the :class:`Backoff` of its kind, or ``None`` (permanent).
            Only ``Exception`` subclasses are classified; ``KeyboardInterrupt`` and the like
            always propagate.
        never: Exception types that are never retried, whatever ``classify`` says.
        server_delay: Reads a server-requested delay (e.g. ``Retry-After``) from a failure.
        on_retry: Called before each wait (log, drop a broken connection…).
        on_give_up: Builds the exception to raise instead of the last failure (raised
            ``from None`` so that nothing of the original, possibly secret-bearing, chain
            travels); returning ``None`` re-raises the failure itself.
        sleep: Waits; injected by tests.
        clock: Monotonic seconds; injected by tests.
        rng: Uniform ``[0, 1)``; injected by tests.

    Returns:
        What ``fn`` returned.
    """
    started = clock()
    tries = 0
    while True:
        tries += 1
        try:
            return fn()
        except Exception as exc:
            elapsed = clock() - started
            backoff = None if isinstance(exc, never) else classify(exc)
            if backoff is None or backoff.exhausted(tries, elapsed):
                failure = Failure(exc, tries, elapsed, permanent=backoff is None)
                replacement = on_give_up(failure) if on_give_up is not None else None
                if replacement is None:
                    raise
                raise replacement from None
            asked = server_delay(exc) if server_delay is not None else None
            delay = backoff.delay(tries, asked, rng())
            if on_retry is not None:
                on_retry(Failure(exc, tries, elapsed, delay=delay))
            sleep(delay)
