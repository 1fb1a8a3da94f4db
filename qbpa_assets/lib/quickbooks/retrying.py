"""Retry decisions of the QuickBooks client, read from the status and Fault ``code``.

Never from the exception class: python-quickbooks raises a 429 Fault as
``ValidationException`` (code 3001) and 5010/6000/6140 as plain ``QuickbooksException``.

Two kinds of transient failure, two budgets (:class:`qbpa_assets.lib.retry.Backoff`):

* **throttling** (HTTP 429 / Fault 3001, JSON or XML): QuickBooks' throttle window lasts up to
  a minute, so the client keeps backing off for at least
  :data:`~qbpa_assets.lib.quickbooks.limits.THROTTLE_MIN_BACKOFF_SECONDS` in total, honouring
  ``Retry-After``;
* **server errors and dropped connections** (500/502/503/504, timeouts): a few attempts
  (``max_retries``), since a failing server rarely heals within seconds.

Authentication failures, TLS failures and every other Fault (validation, not found, stale
object) are permanent. Writes follow the same rules: they carry a ``requestid``, so a retried
write is answered with the original response instead of being applied twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from qbpa_assets.lib import retry
from qbpa_assets.lib.quickbooks.errors import QboAuthError, QboConnectionError, QboError
from qbpa_assets.lib.quickbooks.limits import THROTTLE_MIN_BACKOFF_SECONDS

THROTTLE_STATUS = 429
THROTTLE_FAULT_CODES = frozenset({"3001"})  # ThrottleExceeded
SERVER_ERROR_STATUSES = frozenset({500, 502, 503, 504})
NEVER_RETRIED = (QboAuthError,)


class RetryableResponse(QboError):
    """An error answer worth another try, carrying the server's requested delay."""

    def __init__(self, error: QboError, retry_after: float | None) -> None:
        super().__init__(error.message, code=error.code, status=error.status, detail=error.detail)
        self.error = error
        self.retry_after = retry_after


def unwrap(err: BaseException) -> BaseException:
    """The error a :class:`RetryableResponse` carries (or ``err`` itself)."""
    return err.error if isinstance(err, RetryableResponse) else err


def is_throttle(err: QboError) -> bool:
    """HTTP 429 or Fault 3001 (also inside a 200, also as XML)."""
    return err.status == THROTTLE_STATUS or err.code in THROTTLE_FAULT_CODES


def is_retriable(err: QboError) -> bool:
    """Whether another try could succeed."""
    if isinstance(err, QboAuthError):
        return False
    if isinstance(err, QboConnectionError):
        return err.code != "tls"
    return is_throttle(err) or err.status in SERVER_ERROR_STATUSES


@dataclass(frozen=True)
class QboRetryPolicy:
    """The two budgets of the client.

    Attributes:
        throttle: Backoff while QuickBooks throttles (≥ 90 s in total by default).
        transient: Backoff on 5xx and dropped connections.
    """

    throttle: retry.Backoff
    transient: retry.Backoff

    @classmethod
    def build(
        cls,
        max_retries: int,
        base: float,
        cap: float,
        throttle_budget: float = THROTTLE_MIN_BACKOFF_SECONDS,
    ) -> QboRetryPolicy:
        """Policies from the client's settings.

        Args:
            max_retries: Retries (after the first try) of a 5xx or a dropped connection.
            base: First delay; doubles each try, with jitter.
            cap: Longest computed delay.
            throttle_budget: Seconds of trying while throttled, at least.
        """
        return cls(
            throttle=retry.Backoff(attempts=None, budget=throttle_budget, base=base, cap=cap),
            transient=retry.Backoff(attempts=max(0, max_retries) + 1, base=base, cap=cap),
        )

    def classify(self, err: BaseException) -> retry.Backoff | None:
        """The backoff for a failure, or ``None`` when it is permanent."""
        err = unwrap(err)
        if not isinstance(err, QboError) or not is_retriable(err):
            return None
        return self.throttle if is_throttle(err) else self.transient


def server_delay(err: BaseException) -> float | None:
    """``Retry-After`` of the answer, when it sent one."""
    return err.retry_after if isinstance(err, RetryableResponse) else None
