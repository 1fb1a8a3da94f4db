"""Alert settings: the channels (webhook, SMTP) and the delivery policy, from the environment.

* ``QBPA_ALERT_WEBHOOK_URL``: ``http(s)://`` endpoint that receives the JSON payload (it carries a
  ``text`` field, so Slack/Mattermost incoming webhooks display it as is).
* ``QBPA_SMTP_URL``: ``smtp://user@host:port?from=a@b&to=c@d,e@f``; ``smtps://`` for implicit TLS,
  ``smtp+starttls://`` for STARTTLS. ``QBPA_SMTP_PASSWORD`` holds the password.
* ``QBPA_UI_BASE_URL``: base of the Dagster UI for run links (default ``http://127.0.0.1:3000``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from qbpa_assets.lib.alerts.message import DEFAULT_UI_BASE_URL

logger = logging.getLogger(__name__)

_SMTP_DEFAULT_PORTS = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send alert e-mails (parsed from ``QBPA_SMTP_URL``).

    Attributes:
        scheme: ``smtp``, ``smtps`` (implicit TLS) or ``smtp+starttls``.
        host: SMTP server host.
        port: SMTP server port.
        sender: ``From`` address.
        recipients: ``To`` addresses.
        username: Login, or ``None`` for an unauthenticated relay.
        password: Password (never shown in ``repr``).
    """

    scheme: str
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str, password: str | None = None) -> SmtpSettings:
        """Parse ``smtp[s|+starttls]://[user@]host[:port]?from=a@b&to=c@d,e@f``.

        Args:
            url: The SMTP URL. A password inside it is accepted but ``password`` wins.
            password: The password (from ``QBPA_SMTP_PASSWORD``).

        Returns:
            The settings.

        Raises:
            ValueError: On an unknown scheme, a missing host or no recipient. The message never
                contains the URL, which may hold a password.
        """
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in _SMTP_DEFAULT_PORTS:
            raise ValueError(
                f"QBPA_SMTP_URL: unsupported scheme {scheme!r}; use smtp, smtps or smtp+starttls"
            )
        if not parts.hostname:
            raise ValueError("QBPA_SMTP_URL: no host")
        try:
            port = parts.port or _SMTP_DEFAULT_PORTS[scheme]
        except ValueError as exc:  # non-numeric port
            raise ValueError("QBPA_SMTP_URL: invalid port") from exc
        query = parse_qs(parts.query)
        recipients = tuple(
            addr.strip()
            for value in query.get("to", [])
            for addr in value.split(",")
            if addr.strip()
        )
        if not recipients:
            raise ValueError("QBPA_SMTP_URL: no recipient; add ?to=a@example.com,b@example.com")
        username = unquote(parts.username) if parts.username else None
        sender = (query.get("from") or [""])[0].strip()
        if not sender:
            sender = username if username and "@" in username else f"qbpa@{parts.hostname}"
        url_password = unquote(parts.password) if parts.password else None
        return cls(
            scheme=scheme,
            host=parts.hostname,
            port=port,
            sender=sender,
            recipients=recipients,
            username=username,
            password=password or url_password,
        )


@dataclass(frozen=True)
class AlertSettings:
    """Alert channels and delivery policy.

    Attributes:
        webhook_url: JSON webhook endpoint, or ``None`` (never shown in ``repr``).
        smtp: E-mail settings, or ``None``.
        ui_base_url: Base URL of the Dagster UI, for links.
        attempts: Tries per channel (first try included).
        backoff_seconds: Delay before the second try; doubled before each further one.
        timeout_seconds: Per-request network timeout.
    """

    webhook_url: str | None = field(default=None, repr=False)
    smtp: SmtpSettings | None = None
    ui_base_url: str = DEFAULT_UI_BASE_URL
    attempts: int = 3
    backoff_seconds: float = 1.0
    # Worst case per channel: 3 x 5 s + 1 s + 2 s of backoff = 18 s, so both channels failing
    # still fit in a sensor evaluation (Dagster's default sensor timeout is 60 s).
    timeout_seconds: float = 5.0

    @property
    def enabled(self) -> bool:
        """Whether at least one channel is configured."""
        return bool(self.webhook_url or self.smtp)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> AlertSettings:
        """Read the settings from environment variables.

        An invalid channel is logged and left out (the other channel still works): a typo in
        ``QBPA_SMTP_URL`` must not stop run-failure alerts from reaching the webhook.

        Args:
            environ: Variables to read (default ``os.environ``).
            **overrides: Explicit values for ``attempts``, ``backoff_seconds``,
                ``timeout_seconds``.

        Returns:
            The settings; ``enabled`` is false when no channel is configured.
        """
        env = os.environ if environ is None else environ
        webhook = (env.get("QBPA_ALERT_WEBHOOK_URL") or "").strip() or None
        if webhook and urlsplit(webhook).scheme.lower() not in {"http", "https"}:
            logger.error("QBPA_ALERT_WEBHOOK_URL must be an http(s) URL; webhook alerts disabled")
            webhook = None
        smtp = None
        smtp_url = (env.get("QBPA_SMTP_URL") or "").strip()
        if smtp_url:
            try:
                smtp = SmtpSettings.from_url(smtp_url, env.get("QBPA_SMTP_PASSWORD") or None)
            except ValueError as exc:
                logger.error("%s; e-mail alerts disabled", exc)
        ui_base_url = (env.get("QBPA_UI_BASE_URL") or "").strip() or DEFAULT_UI_BASE_URL
        return cls(webhook_url=webhook, smtp=smtp, ui_base_url=ui_base_url, **overrides)
