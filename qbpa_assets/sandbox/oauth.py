"""Intuit's OAuth 2.0 endpoints: discovery, consent, the token endpoint and revocation.

* ``GET /.well-known/openid_configuration``: the discovery document intuit-oauth reads.
* ``GET /connect/oauth2`` (consent): immediate consent; redirects (302) to the ``redirect_uri``
  given, any scheme (``http://127.0.0.1:…/callback`` or an ``https://`` page that never loads),
  with ``code``, ``state`` and ``realmId`` — or ``error=access_denied`` after
  :meth:`OAuthApi.deny_consent`. Only the ``client_id`` is checked, as the app registration
  would be.
* ``POST /oauth2/v1/tokens/bearer``: ``authorization_code`` (the code is single-use, bound to its
  redirect URI, valid 10 minutes) and ``refresh_token`` grants, HTTP Basic client auth. Refresh
  tokens **rotate**: each refresh returns a new one and the presented one dies (after
  ``refresh_grace_seconds``). ``x_refresh_token_expires_in`` is 101 days by default, settable
  with :meth:`OAuthApi.set_refresh_token_lifetime` (e.g. 3 days, to simulate a token about to
  expire); a refresh token past its lifetime gets ``invalid_grant``.
* ``POST /oauth2/v1/tokens/revoke``, ``GET /v1/openid_connect/userinfo``, ``/op/v1/jwks``.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode

from qbpa_assets.sandbox.wire import JSON, Headers, Response, json_response

DISCOVERY_PATH = "/.well-known/openid_configuration"
AUTHORIZE_PATH = "/connect/oauth2"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/oauth2/v1/tokens/revoke"
USERINFO_PATH = "/v1/openid_connect/userinfo"
JWKS_PATH = "/op/v1/jwks"

REFRESH_TOKEN_LIFETIME = 8_726_400  # 101 days, what Intuit announces in x_refresh_token_expires_in
CODE_LIFETIME = 600
NO_STORE: Headers = (("Cache-Control", "no-cache, no-store"), ("Pragma", "no-cache"))


class OAuthApi:
    """Tokens and consent; the state lives in ``_access``, ``_refresh`` and ``_codes``."""

    client_id: str
    client_secret: str
    realm_id: str
    root_url: str
    access_token_ttl: float
    refresh_grace_seconds: float

    def _init_oauth(self) -> None:
        self._access: dict[str, float] = {}  # token -> expiry (POSIX, emulator clock)
        self._refresh: dict[str, float] = {}  # token -> expiry
        self._codes: dict[str, tuple[str, float]] = {}  # code -> (redirect_uri, expiry)
        self._deny_consent = False
        self.refresh_token_lifetime = REFRESH_TOKEN_LIFETIME

    # ------------------------------------------------------------------ controls

    def issue_refresh_token(self) -> str:
        """Mint another valid refresh token for the company."""
        token = "AB11" + secrets.token_urlsafe(36)
        with self._lock:
            self._refresh[token] = self._ts() + self.refresh_token_lifetime
        return token

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far answer 401."""
        with self._lock:
            for token in self._access:
                self._access[token] = 0.0

    def deny_consent(self, deny: bool = True) -> None:
        """Make the authorization endpoint redirect with ``error=access_denied``."""
        self._deny_consent = deny

    def set_refresh_token_lifetime(self, seconds: int | None) -> None:
        """Set ``x_refresh_token_expires_in`` of the tokens issued from now on (None: 101 days).

        The token really dies after that many seconds of the emulator's clock.
        """
        self.refresh_token_lifetime = REFRESH_TOKEN_LIFETIME if seconds is None else int(seconds)

    # ------------------------------------------------------------------ endpoints

    def oauth_discovery(self, request: Any) -> Response:
        """The OpenID discovery document."""
        root = self.root_url
        return json_response(
            200,
            {
                "issuer": "https://oauth.platform.intuit.com/op/v1",
                "authorization_endpoint": root + AUTHORIZE_PATH,
                "token_endpoint": root + TOKEN_PATH,
                "userinfo_endpoint": root + USERINFO_PATH,
                "revocation_endpoint": root + REVOKE_PATH,
                "jwks_uri": root + JWKS_PATH,
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile", "address", "phone"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
                "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
            },
        )

    def oauth_jwks(self, request: Any) -> Response:
        """An empty key set (no id_token is issued)."""
        return json_response(200, {"keys": []})

    def oauth_authorize(self, request: Any) -> Response:
        """Consent: redirect to the app's ``redirect_uri`` with a code (or an error)."""
        params = request.params
        redirect = params.get("redirect_uri", "")
        if params.get("client_id") != self.client_id or not redirect:
            return Response(400, b"invalid client_id or redirect_uri", "text/plain")
        state = params.get("state", "")
        if self._deny_consent:
            query = {"error": "access_denied", "state": state}
        elif params.get("response_type") != "code":
            query = {"error": "unsupported_response_type", "state": state}
        else:
            code = "AB11" + secrets.token_urlsafe(24)
            with self._lock:
                self._codes[code] = (redirect, self._ts() + CODE_LIFETIME)
            query = {"code": code, "state": state, "realmId": self.realm_id}
        sep = "&" if "?" in redirect else "?"
        return Response(302, b"", "text/plain", (("Location", redirect + sep + urlencode(query)),))

    def oauth_token(self, request: Any) -> Response:
        """The token endpoint: authorization-code and refresh-token grants."""
        if not self._client_ok(request.headers):
            return json_response(401, {"error": "invalid_client"}, NO_STORE)
        form = {k: v[-1] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type")
        with self._lock:
            now = self._ts()
            if grant == "refresh_token":
                token = form.get("refresh_token", "")
                expiry = self._refresh.get(token)
                if expiry is None or expiry <= now:
                    return json_response(400, {"error": "invalid_grant"}, NO_STORE)
                # Rotation: the presented token dies after the grace period.
                self._refresh[token] = min(expiry, now + self.refresh_grace_seconds)
                if self.refresh_grace_seconds <= 0:
                    del self._refresh[token]
                return json_response(200, self._issue_tokens(), NO_STORE)
            if grant == "authorization_code":
                code = self._codes.pop(form.get("code", ""), None)
                if code is None or code[1] <= now or code[0] != form.get("redirect_uri"):
                    return json_response(400, {"error": "invalid_grant"}, NO_STORE)
                return json_response(200, self._issue_tokens(), NO_STORE)
        return json_response(400, {"error": "unsupported_grant_type"}, NO_STORE)

    def oauth_revoke(self, request: Any) -> Response:
        """Revoke an access or refresh token."""
        if not self._client_ok(request.headers):
            return json_response(401, {"error": "invalid_client"})
        body = request.body
        try:
            token = json.loads(body or b"{}").get("token", "")
        except (ValueError, AttributeError):
            form = parse_qs(body.decode("utf-8", "replace"))
            token = (form.get("token") or [""])[-1]
        with self._lock:
            self._access.pop(token, None)
            self._refresh.pop(token, None)
        return Response(200, b"")

    def oauth_userinfo(self, request: Any) -> Response:
        """Who the access token belongs to."""
        if self._bearer(request.headers) is None:
            return self._unauthorized("Token invalid")
        return json_response(200, {"sub": "emulator-user", "email": "user@example.com"})

    # ------------------------------------------------------------------ helpers

    def _client_ok(self, headers: Any) -> bool:
        header = headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
        return secrets.compare_digest(client_id, self.client_id) and secrets.compare_digest(
            secret, self.client_secret
        )

    def _issue_tokens(self) -> JSON:
        access = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.." + secrets.token_urlsafe(48)
        refresh = "AB11" + secrets.token_urlsafe(36)
        now = self._ts()
        self._access[access] = now + self.access_token_ttl
        self._refresh[refresh] = now + self.refresh_token_lifetime
        return {
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": int(self.access_token_ttl),
            "x_refresh_token_expires_in": self.refresh_token_lifetime,
        }

    def _bearer(self, headers: Any) -> str | None:
        """The request's valid access token, or None."""
        header = headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        token = header[7:].strip()
        with self._lock:
            expiry = self._access.get(token)
        if expiry is None or expiry <= self._ts():
            return None
        return token
