"""Secret redaction for alert text: known secret values and credential-looking fragments.

Error text is scrubbed of the values of the known secret variables and of password/token-looking
fragments (URL user info, ``key=value`` pairs with a secret-ish key, bearer tokens) before it
leaves the process.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from urllib.parse import quote

#: Environment variables whose *values* must never appear in an alert.
SECRET_ENV_VARS: tuple[str, ...] = (
    "QBO_CLIENT_SECRET",
    "QBO_REFRESH_TOKEN",
    "INVENTIV_FTP_PASSWORD",
    "INVENTIV_DB_PASSWORD",
    "QBPA_SMTP_PASSWORD",
    "QBPA_ALERT_WEBHOOK_URL",
    "DAGSTER_PG_PASSWORD",
)


_REDACTED = "***"

# Fragments that look like credentials even when we do not know the value: URL user info
# (scheme://user:pass@host), key=value / key: value pairs with a secret-ish key (ODBC "PWD=",
# "password=", OAuth "refresh_token=") and bearer tokens in echoed HTTP headers.
_URL_USERINFO = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+):[^@\s/]+@")
_KEY_VALUE = re.compile(
    r"(?i)(?P<key>\b(?:password|passwd|pwd|secret|client_secret|refresh_token|access_token"
    r"|id_token|api_key|apikey|token)\b[\"']?\s*[=:]\s*)(?P<q>[\"']?)[^\s;&,\"'}]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """Remove credentials from ``text``.

    Args:
        text: Any text that may echo configuration (error messages, connection strings).
        secrets: Literal values to blank out. Defaults to the current values of
            :data:`SECRET_ENV_VARS`.

    Returns:
        The text with every known secret value and every credential-looking fragment replaced
        by ``***``.
    """
    if secrets is None:
        secrets = [os.environ.get(name, "") for name in SECRET_ENV_VARS]
    # Longest first, so a secret that contains another one is removed whole.
    for value in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(value, _REDACTED)
        # A secret may also appear percent-encoded inside a URL or form body.
        encoded = quote(value, safe="")
        if encoded != value:
            text = text.replace(encoded, _REDACTED)
    text = _URL_USERINFO.sub(rf"\g<head>:{_REDACTED}@", text)
    text = _KEY_VALUE.sub(rf"\g<key>\g<q>{_REDACTED}", text)
    return _BEARER.sub(rf"\1 {_REDACTED}", text)
