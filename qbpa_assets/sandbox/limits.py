"""QuickBooks Online's throttles and the faults a test injects, beside each other.

Throttles (on with ``enforce_limits=True`` or :meth:`Emulator.set_limits`) follow
``lib/quickbooks/limits.py``: 500 requests a minute, 10 in flight, 40 batch requests a minute per
company; a request over a limit gets 429 / Fault 3001 and is not counted.

Injected faults (:meth:`Emulator.inject_fault`) fail the next ``count`` matching requests:

* ``status=429`` (Fault 3001; ``xml=True`` for QBO's XML form; ``retry_after=N`` adds the
  ``Retry-After: N`` header), ``401`` (Intuit's 401), ``503`` (the gateway's HTML page), any
  other status a Fault 10000 (``200`` gives a Fault inside a 200 answer);
* ``kind="drop"`` closes the connection without an answer;
* ``path_contains`` limits the rule to paths containing that text (default: any ``/v3`` path).

A throttle window (:meth:`Emulator.throttle_for`) answers 429 to every ``/v3`` request for the
next N seconds of the emulator's clock (so a frozen clock moved by :meth:`Emulator.set_clock`
ends it), with ``Retry-After`` set to the seconds left when asked.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass

from qbpa_assets.lib.quickbooks import limits


@dataclass
class FaultRule:
    """One injected fault: what to answer and to how many more matching requests."""

    status: int
    count: int
    path_contains: str | None
    xml: bool
    kind: str | None
    retry_after: float | None = None

    def matches(self, path: str, is_api: bool) -> bool:
        """Whether this rule applies to a request path."""
        if self.count <= 0:
            return False
        return self.path_contains in path if self.path_contains is not None else is_api


class FaultInjector:
    """The pending injected faults, taken first-come by matching requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> None:
        """Queue a rule."""
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        """Forget every pending rule."""
        with self._lock:
            self._rules.clear()

    def take(self, path: str, is_api: bool) -> FaultRule | None:
        """Return (and use up one count of) the first rule matching the path, if any."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(path, is_api):
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                    return rule
        return None


@dataclass
class ThrottleWindow:
    """Every API request is throttled until ``until`` (emulator-clock POSIX seconds)."""

    until: float
    retry_after: bool


class Throttle:
    """QBO's per-company limits: requests per minute, concurrency and batches per minute."""

    def __init__(self, enforce: bool = False) -> None:
        self._lock = threading.Lock()
        self.enforce = enforce
        self._recent: collections.deque[float] = collections.deque()
        self._recent_batches: collections.deque[float] = collections.deque()
        self.in_flight = 0
        self.window: ThrottleWindow | None = None

    def reset(self, enforce: bool) -> None:
        """Turn the limits on or off and forget the requests counted so far."""
        with self._lock:
            self.enforce = enforce
            self._recent.clear()
            self._recent_batches.clear()

    def window_left(self, now: float) -> float | None:
        """Seconds left of a throttle window at ``now`` (None: no window is open)."""
        window = self.window
        if window is None:
            return None
        if now >= window.until:
            self.window = None
            return None
        return window.until - now

    def admit(self, is_batch: bool) -> bool:
        """Count a request in flight, or refuse it (False) when a limit is reached."""
        with self._lock:
            if self.enforce:
                now = time.monotonic()
                for recent in (self._recent, self._recent_batches):
                    while recent and recent[0] <= now - 60:
                        recent.popleft()
                if (
                    self.in_flight >= limits.MAX_CONCURRENT_REQUESTS
                    or len(self._recent) >= limits.REQUESTS_PER_MINUTE
                    or (is_batch and len(self._recent_batches) >= limits.BATCH_REQUESTS_PER_MINUTE)
                ):
                    return False
                self._recent.append(now)
                if is_batch:
                    self._recent_batches.append(now)
            self.in_flight += 1
        return True

    def release(self) -> None:
        """A request admitted by :meth:`admit` has been answered."""
        with self._lock:
            self.in_flight -= 1
