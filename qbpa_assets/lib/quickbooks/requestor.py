"""One API call through the layers: token, rate limits, transport, fault mapping, retries.

Like stripe-python's ``_api_requestor``: the client's operations describe *what* to send; this
module sends it. A 401 refreshes the access token once (the prescribed answer, not a retry);
a retriable answer is tried again under :class:`~.retrying.QboRetryPolicy` through the one
retry helper; anything else raises the mapped :mod:`.errors` exception.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Any

import requests

from qbpa_assets.lib import retry
from qbpa_assets.lib.quickbooks import faults, oauth, transport
from qbpa_assets.lib.quickbooks.errors import QboAuthError, QboError, QboRetriesExhausted
from qbpa_assets.lib.quickbooks.ratelimit import CompanyLimits
from qbpa_assets.lib.quickbooks.retrying import (
    NEVER_RETRIED,
    QboRetryPolicy,
    RetryableResponse,
    is_retriable,
    is_throttle,
    server_delay,
    unwrap,
)
from qbpa_assets.lib.quickbooks.tokens import TokenManager

Check = Callable[[bytes, str], tuple[Any, QboError | None]]


class _Call:
    """One API call's state across tries: at most one token refresh for a 401."""

    def __init__(self) -> None:
        self.refreshed_for_401 = False
        self.rejected: str | None = None  # the access token a 401 refused, to be replaced


class Requestor:
    """Sends API calls of one company and counts them.

    Args:
        qb: python-quickbooks client (URL layout, ``process_request``) on an ``ApiSession``.
        session: The session whose thread-local ``access_token`` python-quickbooks sends.
        tokens: Current access token, refresh after a 401.
        limits: The company's shared rate and concurrency limits.
        policy: Retry budgets.
        log: Where retries and waits are reported.
        sleep: Waits between tries.
        clock: Monotonic clock of the budgets.
    """

    def __init__(
        self,
        qb: Any,
        session: transport.ApiSession,
        tokens: TokenManager,
        limits: CompanyLimits,
        policy: QboRetryPolicy,
        log: logging.Logger | Any,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self._qb, self._session, self._tokens, self._limits = qb, session, tokens, limits
        self._policy, self._log, self._sleep, self._clock = policy, log, sleep, clock
        self._stats: collections.Counter[str] = collections.Counter()
        self._stats_lock = threading.Lock()

    def stats(self) -> dict[str, int]:
        """Counters: ``requests``, per op, ``pages``, ``retries``, ``throttled`` and more."""
        with self._stats_lock:
            return dict(self._stats)

    def bump(self, key: str, n: int = 1) -> None:
        """Add to a counter."""
        with self._stats_lock:
            self._stats[key] += n

    def url(self, realm_id: str, path: str) -> str:
        """The v3 URL of ``path`` in the company."""
        return f"{self._qb.api_url}/company/{realm_id}/{path}"

    def _send(
        self,
        call: _Call,
        method: str,
        url: str,
        params: dict[str, Any],
        body: bytes | None,
        content_type: str,
        op: str,
        context: str,
    ) -> requests.Response:
        """One try: token, rate limits, the request; a 401 refreshes the token once."""
        while True:
            rejected, call.rejected = call.rejected, None
            token = self._tokens.invalidate(rejected) if rejected else self._tokens.current()
            waited = self._limits.acquire_rate(batch=op == "batch")
            if waited > 0.5:
                self.bump("throttle_waits")
                self._log.info(f"{context}: waited {waited:.1f}s for the client-side rate limit")
            try:
                with self._limits.in_flight:
                    self._session.access_token = token
                    self.bump("requests")
                    self.bump(op)
                    resp = self._qb.process_request(
                        method,
                        url,
                        headers=transport.headers(content_type),
                        params=dict(params),
                        data=body,
                    )
                    resp.content  # noqa: B018 - read the body inside the in-flight slot
            except requests.exceptions.RequestException as exc:
                raise oauth.connection_error(url, exc, "QuickBooks") from None
            if resp.status_code != 401:
                return resp
            if call.refreshed_for_401:
                raise QboAuthError(
                    f"{context}: QuickBooks still answers 401 after a token refresh; check "
                    "QBO_REALM_ID and the app's access to this company, or run "
                    "`qbpa authorize`",
                    status=401,
                    code="401",
                )
            call.refreshed_for_401 = True
            call.rejected = token
            self._log.info(f"{context}: access token rejected (401), refreshing it")

    def request(
        self,
        method: str,
        url: str,
        *,
        op: str,
        context: str,
        params: dict[str, Any] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        request_id: str | None = None,
        minor_version: int,
        check: Check | None = None,
    ) -> tuple[bytes, Any]:
        """Send one API call with auth, limits and retries; return (raw body, checked body).

        Args:
            method: HTTP method.
            url: Full URL (see :meth:`url`).
            op: Counter name (``query``, ``batch``, ``create``, ``read``, ``cdc``).
            context: What the call is for, at the start of every message about it.
            params: Query-string parameters.
            body: Request body.
            content_type: Its type.
            request_id: QuickBooks ``requestid``, the same on every try.
            minor_version: ``minorversion`` parameter.
            check: Turns a 200 body into (value, error); default: parse it
                (:func:`~.faults.parse_ok`).
        """
        send_params = dict(params or {})
        send_params["minorversion"] = minor_version
        if request_id:
            # The same requestid on every try: QuickBooks then answers a repeated write with
            # the original response instead of writing twice.
            send_params["requestid"] = request_id
        check = check or faults.parse_ok
        call = _Call()

        def attempt() -> tuple[bytes, Any]:
            resp = self._send(call, method, url, send_params, body, content_type, op, context)
            raw = resp.content
            if resp.status_code == 200:
                value, err = check(raw, context)
                if err is None:
                    return raw, value
                retry_after = None
            else:
                err = faults.error_from_response(resp.status_code, resp.text or "", context)
                retry_after = transport.retry_after(resp)
            if is_retriable(err):
                raise RetryableResponse(err, retry_after)
            raise err

        def on_retry(failure: retry.Failure) -> None:
            err = unwrap(failure.error)
            if isinstance(err, QboError) and is_throttle(err):
                self.bump("throttled")
            self.bump("retries")
            self._log.warning(
                f"{context}: attempt {failure.tries} failed ({err}); retrying in "
                f"{failure.delay:.2f}s ({failure.elapsed:.0f}s so far)"
            )

        def on_give_up(failure: retry.Failure) -> BaseException:
            err = unwrap(failure.error)
            if failure.permanent or not isinstance(err, QboError):
                return err
            return QboRetriesExhausted(
                f"{context}: gave up after {failure.tries} attempts in {failure.elapsed:.0f}s "
                f"({method} {url}); last error: {err.message}",
                attempts=failure.tries,
                last_error=err,
            )

        return retry.call(
            attempt,
            self._policy.classify,
            never=NEVER_RETRIED,
            server_delay=server_delay,
            on_retry=on_retry,
            on_give_up=on_give_up,
            sleep=self._sleep,
            clock=self._clock,
        )
