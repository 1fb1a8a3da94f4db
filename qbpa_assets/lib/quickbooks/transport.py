"""Transport: the HTTP session of API calls (trusted CA per request, timeouts, bearer token).

requests lets ``REQUESTS_CA_BUNDLE`` (set machine-wide on many hosts, ours included) override
``session.verify``; the session therefore passes ``verify`` with every request, so that
``QBO_CA_BUNDLE`` is what is trusted. python-quickbooks' ``process_request`` reads
``session.access_token`` and calls ``session.request``; pages are fetched from several
threads, so the token each thread sends is thread-local (a 401 must name exactly the token it
refused).
"""

from __future__ import annotations

import threading
from typing import Any

import requests
import requests.adapters
from quickbooks.client import QuickBooks

CONNECT_TIMEOUT = 10.0
USER_AGENT = "qbpa (python-quickbooks V3 library)"


class ForcedVerify:
    """Mixin for a ``requests.Session``: every request passes our CA bundle and a timeout.

    The subclass sets ``_qbpa_verify`` (CA file or ``None`` for the system store) and
    ``_qbpa_timeout`` before its first request.
    """

    _qbpa_verify: str | None
    _qbpa_timeout: Any

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        """Send with ``verify`` forced (``REQUESTS_CA_BUNDLE`` would override the session's)."""
        if self._qbpa_verify:
            kwargs["verify"] = self._qbpa_verify
        kwargs.setdefault("timeout", self._qbpa_timeout)
        return super().request(method, url, *args, **kwargs)  # type: ignore[misc]


class ApiSession(ForcedVerify, requests.Session):
    """HTTP session for API calls: per-thread bearer token, forced CA bundle and timeouts.

    Args:
        ca_bundle: CA file to trust (``QBO_CA_BUNDLE``), or ``None`` for the system store.
        timeout: Read timeout in seconds (the connect timeout is at most 10 s).
        pool_size: Connections kept open (as many as requests in flight).
    """

    def __init__(self, ca_bundle: str | None, timeout: float, pool_size: int) -> None:
        super().__init__()
        self._qbpa_verify = ca_bundle
        self._qbpa_timeout = (min(CONNECT_TIMEOUT, timeout), timeout)
        self._local = threading.local()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self.mount("https://", adapter)

    @property
    def access_token(self) -> str:
        """The bearer token of the calling thread."""
        return self._local.token

    @access_token.setter
    def access_token(self, value: str) -> None:
        self._local.token = value

    def __repr__(self) -> str:
        return "ApiSession()"


def make_quickbooks(realm_id: str, minor_version: int, base_url: str, session: ApiSession):
    """A python-quickbooks client that does the URL layout and request plumbing only.

    It is created without an ``AuthClient`` on purpose: with one, its constructor refreshes the
    token at once and never persists the rotated refresh token; the TokenManager owns tokens.
    """
    qb = QuickBooks(company_id=realm_id, minorversion=minor_version)
    qb.sandbox = False
    qb.api_url_v3 = base_url
    qb.session = session
    return qb


def headers(content_type: str) -> dict[str, str]:
    """Headers of one API call (the bearer token is added by python-quickbooks)."""
    return {"Content-Type": content_type, "Accept": "application/json", "User-Agent": USER_AGENT}


def retry_after(resp: requests.Response) -> float | None:
    """The ``Retry-After`` delay in seconds, when the server sent one as a number."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
