"""Retries of an alert channel, through the one retry helper (:mod:`qbpa_assets.lib.retry`).

Transient failures are retried with exponential backoff; whatever still fails becomes an
:class:`AlertDeliveryError` whose message names the channel and the reason only (never a URL or
a password).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from qbpa_assets.lib import retry

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

    Args:
        action: One delivery attempt.
        is_transient: Whether a failure is worth another try.
        describe: A secret-free description of a failure.
        channel: The channel's name for messages (e.g. ``webhook hooks.slack.com``).
        attempts: Tries in total (the first included).
        backoff_seconds: Delay before the second try, doubled before each further one.

    Raises:
        AlertDeliveryError: With a secret-free description once retries are exhausted or on a
            permanent failure.
    """
    attempts = max(1, attempts)
    # No jitter: one sender, and the worst case must fit in a sensor evaluation (settings.py).
    policy = retry.Backoff(attempts=attempts, base=backoff_seconds, cap=3600.0, jitter=0.0)

    def on_retry(failure: retry.Failure) -> None:
        logger.warning(
            "%s: %s; retry %d/%d in %.1fs",
            channel,
            describe(failure.error),
            failure.tries,
            attempts - 1,
            failure.delay,
        )

    def on_give_up(failure: retry.Failure) -> BaseException:
        reason = describe(failure.error)
        if failure.permanent:
            return AlertDeliveryError(f"{channel}: {reason} (permanent)")
        return AlertDeliveryError(f"{channel}: {reason} (gave up after {attempts} attempts)")

    return retry.call(
        action,
        lambda exc: policy if is_transient(exc) else None,
        on_retry=on_retry,
        on_give_up=on_give_up,
    )
