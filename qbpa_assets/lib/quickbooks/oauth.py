"""intuit-oauth glue: trust ``QBO_CA_BUNDLE`` per request and map OAuth failures to our errors.

requests lets ``REQUESTS_CA_BUNDLE`` (set machine-wide on many hosts) override
``session.verify``, and intuit-oauth fetches the discovery document inside
``AuthClient.__init__``. So a custom CA cannot be configured on the session after construction:
:class:`CaAwareAuthClient` (an ``AuthClient`` is a ``requests.Session``) forces ``verify`` and a
timeout in ``request()`` itself (:class:`~.transport.ForcedVerify`), which every intuit-oauth call
goes through.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from intuitlib.client import AuthClient
from intuitlib.config import DISCOVERY_URL
from intuitlib.exceptions import AuthClientError

from qbpa_assets.lib.quickbooks.errors import QboAuthError, QboConnectionError, QboError
from qbpa_assets.lib.quickbooks.settings import QboSettings
from qbpa_assets.lib.quickbooks.tokens import REAUTHORIZE_HINT, TokenGrant
from qbpa_assets.lib.quickbooks.transport import ForcedVerify

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"


def discovery_url(environment: str) -> str:
    """The OpenID discovery-document URL for ``production``, ``sandbox`` or a URL."""
    env = environment.strip()
    if env.lower() in {"production", "prod"}:
        return DISCOVERY_URL["production"]
    if env.lower() in {"sandbox", "sand"}:
        return DISCOVERY_URL["sandbox"]
    return env


class CaAwareAuthClient(ForcedVerify, AuthClient):
    """``AuthClient`` whose every HTTP request uses our CA bundle and a timeout."""

    def __init__(
        self, *args: Any, ca_bundle: str | None = None, timeout: float = 30.0, **kwargs: Any
    ) -> None:
        # Set before super().__init__, which already performs the discovery request.
        self._qbpa_verify = ca_bundle
        self._qbpa_timeout = timeout
        super().__init__(*args, **kwargs)

    def __repr__(self) -> str:
        return f"CaAwareAuthClient(environment={self.environment!r})"


def connection_error(url: str, exc: BaseException, what: str) -> QboConnectionError:
    """Describe a transport failure by URL and exception type (never headers or bodies)."""
    kind = (
        "TLS verification failed"
        if isinstance(exc, requests.exceptions.SSLError)
        else ("timed out" if isinstance(exc, requests.exceptions.Timeout) else "connection failed")
    )
    hint = ""
    if isinstance(exc, requests.exceptions.SSLError):
        hint = " (is QBO_CA_BUNDLE set to the CA that signed this server's certificate?)"
    err = QboConnectionError(f"cannot reach {what} at {url}: {kind}{hint}", url=url)
    err.code = "tls" if isinstance(exc, requests.exceptions.SSLError) else "connection"
    return err


def make_auth_client(settings: QboSettings, redirect_uri: str = "") -> CaAwareAuthClient:
    """Create the intuit-oauth client (fetches the discovery document).

    Raises:
        QboConnectionError: The discovery document could not be fetched.
    """
    url = discovery_url(settings.environment)
    try:
        return CaAwareAuthClient(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            redirect_uri=redirect_uri,
            environment=settings.environment,
            ca_bundle=settings.ca_bundle,
            timeout=min(settings.timeout, 30.0),
        )
    except requests.exceptions.RequestException as exc:
        raise connection_error(url, exc, "the QuickBooks OpenID discovery document") from None
    except AuthClientError as exc:
        raise QboConnectionError(
            f"the QuickBooks OpenID discovery document at {url} answered HTTP "
            f"{exc.status_code}; check QBO_ENVIRONMENT",
            url=url,
        ) from None
    except (ValueError, KeyError) as exc:
        raise QboConnectionError(
            f"{url} did not return an OpenID discovery document ({type(exc).__name__}); "
            "check QBO_ENVIRONMENT",
            url=url,
        ) from None


def _oauth_error(exc: AuthClientError) -> tuple[str, str]:
    try:
        body = json.loads(exc.content or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return str(body.get("error") or ""), str(body.get("error_description") or "")


def token_error(exc: AuthClientError, endpoint: str, action: str) -> QboError:
    """Map a token-endpoint failure to a :class:`QboError` (without echoing any token)."""
    error, description = _oauth_error(exc)
    status = exc.status_code
    if error == "invalid_grant":
        return QboAuthError(
            f"QuickBooks refused the refresh token while {action} (invalid_grant): "
            + REAUTHORIZE_HINT,
            code="invalid_grant",
            status=status,
            detail=description or None,
        )
    if error == "invalid_client" or status == 401:
        return QboAuthError(
            f"QuickBooks rejected the app credentials while {action} ({error or 'HTTP 401'}): "
            "check QBO_CLIENT_ID and QBO_CLIENT_SECRET",
            code=error or "invalid_client",
            status=status,
        )
    if status >= 500 or status == 429:
        return QboError(
            f"the QuickBooks token endpoint {endpoint} answered HTTP {status} while {action}",
            code=error or None,
            status=status,
        )
    return QboAuthError(
        f"the QuickBooks token endpoint {endpoint} answered HTTP {status} "
        f"({error or 'no error code'}) while {action}",
        code=error or None,
        status=status,
        detail=description or None,
    )


def refresh_grant(auth: AuthClient, refresh_token: str) -> TokenGrant:
    """Exchange a refresh token for new tokens.

    Raises:
        QboAuthError: The refresh token is dead (``invalid_grant``) or the app is rejected.
        QboConnectionError: The token endpoint is unreachable.
        QboError: The token endpoint failed with 429/5xx (retriable).
    """
    try:
        auth.refresh(refresh_token=refresh_token)
    except requests.exceptions.RequestException as exc:
        raise connection_error(auth.token_endpoint, exc, "the QuickBooks token endpoint") from None
    except AuthClientError as exc:
        raise token_error(exc, auth.token_endpoint, "refreshing the access token") from None
    return _grant_from(auth)


def exchange_code(auth: AuthClient, code: str, realm_id: str | None) -> TokenGrant:
    """Exchange an authorization code (``qbpa authorize``) for tokens."""
    try:
        auth.get_bearer_token(code, realm_id=realm_id)
    except requests.exceptions.RequestException as exc:
        raise connection_error(auth.token_endpoint, exc, "the QuickBooks token endpoint") from None
    except AuthClientError as exc:
        raise token_error(exc, auth.token_endpoint, "exchanging the authorization code") from None
    return _grant_from(auth)


def _grant_from(auth: AuthClient) -> TokenGrant:
    if not auth.access_token:
        raise QboAuthError("the QuickBooks token endpoint returned no access token")
    return TokenGrant(
        access_token=auth.access_token,
        refresh_token=auth.refresh_token,
        expires_in=float(auth.expires_in or 3600),
        refresh_token_expires_in=(
            float(auth.x_refresh_token_expires_in) if auth.x_refresh_token_expires_in else None
        ),
    )
