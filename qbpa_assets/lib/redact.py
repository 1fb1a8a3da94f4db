"""The one redactor: secrets out of every message, log line, alert and report.

Two kinds of secret are removed. Known values (a password, a refresh token, the current values
of :data:`SECRET_ENV_VARS`) are replaced wherever they appear, percent-encoded too. Fragments
that look like credentials even when the value is unknown are masked by shape: URL user info
(``scheme://user:pass@host``), ``key=value`` / ``key: value`` pairs with a secret-ish key (ODBC
``PWD={…}``, ``password=``, OAuth ``refresh_token=``) and ``Bearer``/``Basic`` header values.

:func:`mask_connection_string` and :func:`url_without_password` are the two shapes the
transfers and the ODBC client show in their messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

MASK = "***"

#: Environment variables whose *values* must never appear in a message.
SECRET_ENV_VARS: tuple[str, ...] = (
    "QBO_CLIENT_SECRET",
    "QBO_REFRESH_TOKEN",
    "INVENTIV_FTP_PASSWORD",
    "INVENTIV_DB_PASSWORD",
    "QBPA_SMTP_PASSWORD",
    "QBPA_ALERT_WEBHOOK_URL",
    "DAGSTER_PG_PASSWORD",
)

# Known values shorter than this are not replaced: "abc" would blank out ordinary words.
MIN_SECRET_LENGTH = 4

_URL_USERINFO = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+):[^@\s/]+@")
# The value is an ODBC braced value ({…} with }} for a literal }) or a bare run that ends where
# a message would go on (blank, quote, separator): a driver message continues after it.
_KEY_VALUE = re.compile(
    r"(?i)(?P<key>\b(?:password|passwd|pwd|secret|client_secret|refresh_token|access_token"
    r"|id_token|api_key|apikey|token)\b[\"']?\s*[=:]\s*)(?P<q>[\"']?)"
    r"(?:\{(?:[^}]|\}\})*\}?|[^\s;&,\"'})\]]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
# In a connection string a bare value runs to the next ``;`` (blanks included).
_CONNECTION_PWD = re.compile(r"(?i)\b(pwd|password)\s*=\s*(\{(?:[^}]|\}\})*\}?|[^;]*)")


def env_secrets(environ: dict[str, str] | None = None) -> list[str]:
    """The current values of :data:`SECRET_ENV_VARS` (unset ones left out)."""
    env = os.environ if environ is None else environ
    return [value for name in SECRET_ENV_VARS if (value := env.get(name))]


class Redactor:
    """Replaces known secret values, and credential-shaped fragments, by ``***``.

    Args:
        secrets: Literal values to hide; more can be added with :meth:`add`.
        patterns: Also mask credential-shaped fragments (URL user info, ``key=value``, bearer).
    """

    def __init__(self, secrets: Iterable[str | None] = (), *, patterns: bool = True) -> None:
        self._secrets: set[str] = set()
        self._patterns = patterns
        self.add(*secrets)

    def add(self, *values: str | None) -> None:
        """Remember more secret values (values shorter than 4 characters are ignored)."""
        for value in values:
            if value and len(value) >= MIN_SECRET_LENGTH:
                self._secrets.add(value)

    def __call__(self, text: str) -> str:
        """Return ``text`` without any known secret or credential-shaped fragment."""
        # Longest first, so that a secret containing another is replaced whole.
        for value in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(value, MASK)
            encoded = quote(value, safe="")  # as it would appear in a URL or form body
            if encoded != value:
                text = text.replace(encoded, MASK)
        if not self._patterns:
            return text
        text = _URL_USERINFO.sub(rf"\g<head>:{MASK}@", text)
        text = _KEY_VALUE.sub(rf"\g<key>\g<q>{MASK}", text)
        return _BEARER.sub(rf"\1 {MASK}", text)


def redact(text: str, secrets: Iterable[str | None] | None = None) -> str:
    """Remove credentials from ``text``.

    Args:
        text: Any text that may echo configuration (error messages, connection strings).
        secrets: Literal values to blank out; defaults to the values of
            :data:`SECRET_ENV_VARS`.

    Returns:
        The text with every known secret value and every credential-looking fragment replaced
        by ``***``.
    """
    return Redactor(env_secrets() if secrets is None else secrets)(text)


def mask_connection_string(connection_string: str) -> str:
    """Return an ODBC connection string with any ``PWD``/``Password`` value replaced by ``***``."""
    return _CONNECTION_PWD.sub(lambda m: f"{m.group(1)}={MASK}", connection_string)


def connection_string_secrets(connection_string: str) -> list[str]:
    """The password values written into an ODBC connection string (braces removed)."""
    out = []
    for match in _CONNECTION_PWD.finditer(connection_string or ""):
        value = match.group(2).strip()
        if value.startswith("{") and value.endswith("}"):
            value = value[1:-1].replace("}}", "}")
        if value:
            out.append(value)
    return out


def url_without_password(url: str) -> str:
    """``scheme://user@host:port/path`` of a URL: no password, no query, no fragment."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return f"{parts.scheme}://{netloc}{parts.path}"
