"""Rate limiting and concurrency: stay under QuickBooks' per-company limits in this process.

The numbers come from :mod:`qbpa_assets.lib.quickbooks.limits`; the client keeps a little
headroom under the request rate so that another tool on the same company does not push us
over. Every client of one company (API base + realm) in a process shares one set of limits.
"""

from __future__ import annotations

import collections
import threading
import time

from qbpa_assets.lib.quickbooks import limits

# 480 of QuickBooks' 500 requests/min; batches use the full 40/min (they count as requests too).
REQUESTS_PER_MINUTE = limits.REQUESTS_PER_MINUTE - 20
BATCH_REQUESTS_PER_MINUTE = limits.BATCH_REQUESTS_PER_MINUTE
MAX_IN_FLIGHT = limits.MAX_CONCURRENT_REQUESTS


class SlidingWindow:
    """At most ``limit`` events per ``period`` seconds (blocking ``acquire``)."""

    def __init__(self, limit: int, period: float = 60.0) -> None:
        self.limit = limit
        self.period = period
        self._events: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a free slot; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                while self._events and now - self._events[0] >= self.period:
                    self._events.popleft()
                if len(self._events) < self.limit:
                    self._events.append(now)
                    return waited
                delay = self.period - (now - self._events[0]) + 0.01
            time.sleep(delay)
            waited += delay


class CompanyLimits:
    """Client-side limits shared by every client of one company in this process.

    Attributes:
        requests: Requests per minute.
        batches: Batch requests per minute.
        in_flight: Requests at once (QuickBooks refuses more than 10 per company).
    """

    _registry: dict[str, CompanyLimits] = {}
    _registry_lock = threading.Lock()

    def __init__(self) -> None:
        self.requests = SlidingWindow(REQUESTS_PER_MINUTE)
        self.batches = SlidingWindow(BATCH_REQUESTS_PER_MINUTE)
        self.in_flight = threading.BoundedSemaphore(MAX_IN_FLIGHT)

    @classmethod
    def for_company(cls, key: str) -> CompanyLimits:
        """The shared limits of one company (``"<api base>|<realm>"``)."""
        with cls._registry_lock:
            if key not in cls._registry:
                cls._registry[key] = cls()
            return cls._registry[key]

    def acquire_rate(self, batch: bool) -> float:
        """Wait for the request (and batch) rate; return the seconds waited."""
        waited = self.requests.acquire()
        if batch:
            waited += self.batches.acquire()
        return waited
