"""Retries of an alert channel: transient failures retried with exponential backoff.

Whatever still fails becomes an :class:`AlertDeliveryError` whose message names the channel and
the reason only (never a URL or a password).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class AlertDeliveryError(Exception):
    """An alert channel failed for good (after retries, or on a permanent error)."""


def with_retries(
    action: Callable[[], T],
    is_transient: Callable[[BaseException], bool],
    describe: Callable[[BaseException], str],
    channel: str,
    attempts: int,
    backoff_seconds: float,
) -> T:
    """Run ``action``, retrying transient failures with exponential backoff.

    Raises:
        AlertDeliveryError: With a secret-free description once retries are exhausted or on a
            permanent failure.
    """
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - classified below, never propagated raw
            reason = describe(exc)
            if not is_transient(exc):
                raise AlertDeliveryError(f"{channel}: {reason} (permanent)") from None
            if attempt == attempts:
                raise AlertDeliveryError(
                    f"{channel}: {reason} (gave up after {attempts} attempts)"
                ) from None
            delay = backoff_seconds * 2 ** (attempt - 1)
            logger.warning(
                "%s: %s; retry %d/%d in %.1fs", channel, reason, attempt, attempts - 1, delay
            )
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
