"""The webhook channel: POST the alert's JSON, retrying connection errors, 429 and 5xx.

A webhook URL (Slack, Teams) *is* a credential: it is never logged, and errors name its host only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from qbpa_assets.lib.alerts.retries import with_retries


class _HttpStatusError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _http_transient(exc: BaseException) -> bool:
    if isinstance(exc, _HttpStatusError):
        return exc.status == 429 or exc.status >= 500
    return isinstance(exc, (requests.ConnectionError, requests.Timeout))


def _http_describe(exc: BaseException) -> str:
    # requests' messages embed the full URL, and a webhook URL is a credential: class name only.
    return str(exc) if isinstance(exc, _HttpStatusError) else type(exc).__name__


def post_webhook(
    url: str,
    payload: Mapping[str, Any],
    attempts: int = 3,
    backoff_seconds: float = 1.0,
    timeout_seconds: float = 10.0,
) -> int:
    """POST ``payload`` as JSON to ``url``, retrying connection errors, 429 and 5xx.

    Args:
        url: The webhook endpoint.
        payload: JSON-serializable document.
        attempts: Tries in total.
        backoff_seconds: First retry delay, doubled each time.
        timeout_seconds: Connect/read timeout per request.

    Returns:
        The HTTP status of the successful response.

    Raises:
        AlertDeliveryError: When delivery failed for good; the message names the host only.
    """
    channel = f"webhook {urlsplit(url).hostname}"

    def send() -> int:
        response = requests.post(url, json=dict(payload), timeout=timeout_seconds)
        if not 200 <= response.status_code < 300:
            raise _HttpStatusError(response.status_code)
        return response.status_code

    return with_retries(send, _http_transient, _http_describe, channel, attempts, backoff_seconds)
