"""Operational alerts: build a message, post it to a webhook and/or e-mail it over SMTP.

Plain Python (no Dagster) so the Dagster sensors stay thin and the delivery code can be tested
against real local HTTP and SMTP servers. Two rules shape everything here:

* **No secret leaves the process.** Error text is cut to its first lines and scrubbed of the
  values of the known secret variables and of password/token-looking fragments; the webhook URL
  (a Slack/Teams webhook URL *is* a credential) and the SMTP password are never logged.
* **Alerting never takes the platform down.** Transient failures (connection refused, timeouts,
  HTTP 429/5xx, SMTP 4xx) are retried with exponential backoff; whatever still fails is logged
  and reported in the return value of :func:`send_alert`, which never raises.

Configuration (environment variables):

* ``QBPA_ALERT_WEBHOOK_URL``: ``http(s)://`` endpoint that receives the JSON payload (it carries a
  ``text`` field, so Slack/Mattermost incoming webhooks display it as is).
* ``QBPA_SMTP_URL``: ``smtp://user@host:port?from=a@b&to=c@d,e@f``; ``smtps://`` for implicit TLS,
  ``smtp+starttls://`` for STARTTLS. ``QBPA_SMTP_PASSWORD`` holds the password.
* ``QBPA_UI_BASE_URL``: base of the Dagster UI for run links (default ``http://127.0.0.1:3000``).
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

import requests

logger = logging.getLogger(__name__)

DEFAULT_UI_BASE_URL = "http://127.0.0.1:3000"

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

_SMTP_DEFAULT_PORTS = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}
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

T = TypeVar("T")


class AlertDeliveryError(Exception):
    """An alert channel failed for good (after retries, or on a permanent error)."""


# --------------------------------------------------------------------------------------------
# Message building
# --------------------------------------------------------------------------------------------


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


def summarize_error(
    text: str, max_lines: int = 10, max_line_chars: int = 300, max_chars: int = 2000
) -> str:
    """Return the first non-blank lines of an error, cut to a readable size and redacted.

    Args:
        text: The full error text (message, possibly with a stack trace).
        max_lines: How many non-blank lines to keep.
        max_line_chars: Longer lines are cut and end with ``…``.
        max_chars: Upper bound of the whole summary.

    Returns:
        The summary; ``""`` when ``text`` is blank.
    """
    lines = [line.rstrip() for line in redact(text).splitlines() if line.strip()]
    kept = [
        line if len(line) <= max_line_chars else line[: max_line_chars - 1] + "…"
        for line in lines[:max_lines]
    ]
    if len(lines) > max_lines:
        kept.append(f"… ({len(lines) - max_lines} more lines)")
    summary = "\n".join(kept)
    return summary if len(summary) <= max_chars else summary[: max_chars - 1] + "…"


def run_url(ui_base_url: str, run_id: str) -> str:
    """Return the link to a run in the Dagster UI (``<base>/runs/<run_id>``)."""
    return f"{ui_base_url.rstrip('/')}/runs/{run_id}"


def asset_url(ui_base_url: str, asset_key_path: Sequence[str]) -> str:
    """Return the link to an asset in the Dagster UI (``<base>/assets/<a>/<b>``)."""
    return f"{ui_base_url.rstrip('/')}/assets/{'/'.join(quote(p) for p in asset_key_path)}"


@dataclass(frozen=True)
class Alert:
    """One notification, independent of the channel that carries it.

    Attributes:
        kind: Machine-readable type: ``run_failure`` or ``rejected_orders``.
        severity: ``error`` or ``warning``.
        title: One line, used as the e-mail subject.
        text: Human-readable body (plain text, also Slack-compatible).
        fields: Structured details, merged into the JSON payload.
    """

    kind: str
    severity: str
    title: str
    text: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """Return the JSON document posted to the webhook."""
        return {
            "source": "qbpa",
            "kind": self.kind,
            "severity": self.severity,
            "title": self.title,
            "text": self.text,
            **self.fields,
        }


def build_run_failure_alert(
    job_name: str,
    run_id: str,
    failed_steps: Sequence[str],
    error: str,
    ui_base_url: str = DEFAULT_UI_BASE_URL,
    partition_key: str | None = None,
) -> Alert:
    """Build the alert for a failed Dagster run.

    Args:
        job_name: Name of the failed job.
        run_id: The run id.
        failed_steps: Keys of the steps (ops/assets) that failed; empty for run-level failures.
        error: Full error text; only a redacted summary of its first lines is kept.
        ui_base_url: Base URL of the Dagster UI, for the run link.
        partition_key: The run's partition, if any.

    Returns:
        The alert, with fields ``job``, ``run_id``, ``failed_steps``, ``error``, ``url`` and
        ``partition``.
    """
    summary = summarize_error(error) or "(no error message)"
    url = run_url(ui_base_url, run_id)
    steps = ", ".join(failed_steps) if failed_steps else "(run-level failure)"
    where = f" [partition {partition_key}]" if partition_key else ""
    text = (
        f":rotating_light: qbpa run failed: job `{job_name}`{where}\n"
        f"Run: {run_id}\nFailed step(s): {steps}\nError:\n{summary}\n{url}"
    )
    return Alert(
        kind="run_failure",
        severity="error",
        title=f"[qbpa] job {job_name} failed{where}",
        text=text,
        fields={
            "job": job_name,
            "run_id": run_id,
            "partition": partition_key,
            "failed_steps": list(failed_steps),
            "error": summary,
            "url": url,
        },
    )


def build_rejected_orders_alert(
    rejected: int,
    rejects_markdown: str = "",
    partition_key: str | None = None,
    run_id: str | None = None,
    ui_base_url: str = DEFAULT_UI_BASE_URL,
    asset_key_path: Sequence[str] = ("quickbooks", "sales_orders"),
) -> Alert:
    """Build the warning sent when a sales-order import left rejected orders behind.

    Args:
        rejected: Number of rejected orders in the materialization.
        rejects_markdown: The markdown table of rejects (order id, reason) from the metadata.
        partition_key: The day the materialization covers.
        run_id: The run that produced it (``None`` for run-less reports).
        ui_base_url: Base URL of the Dagster UI.
        asset_key_path: The asset key, for the asset link.

    Returns:
        The alert, with fields ``asset``, ``partition``, ``rejected``, ``rejects``, ``run_id``,
        ``url`` (run link, or asset link without a run) and ``asset_url``.
    """
    link_asset = asset_url(ui_base_url, asset_key_path)
    url = run_url(ui_base_url, run_id) if run_id else link_asset
    rejects = summarize_error(rejects_markdown, max_lines=25, max_chars=4000)
    where = f" for {partition_key}" if partition_key else ""
    text = (
        f":warning: qbpa: {rejected} PocketAdvantage order(s) rejected by QuickBooks{where} "
        f"and waiting for a fix.\n{rejects}\n{url}"
    ).replace("\n\n", "\n")
    return Alert(
        kind="rejected_orders",
        severity="warning",
        title=f"[qbpa] {rejected} rejected order(s) waiting{where}",
        text=text,
        fields={
            "asset": "/".join(asset_key_path),
            "partition": partition_key,
            "rejected": rejected,
            "rejects": rejects,
            "run_id": run_id,
            "url": url,
            "asset_url": link_asset,
        },
    )


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------------------------


def _with_retries(
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

    return _with_retries(send, _http_transient, _http_describe, channel, attempts, backoff_seconds)


def _smtp_transient(exc: BaseException) -> bool:
    # smtplib's exceptions subclass OSError, so the SMTP-specific checks must come first.
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500 or exc.smtp_code < 0
    if isinstance(exc, smtplib.SMTPException):
        return False
    return isinstance(exc, OSError)


def _smtp_describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__} {exc.smtp_code}"
    return type(exc).__name__


def build_email(alert: Alert, smtp: SmtpSettings) -> EmailMessage:
    """Return the e-mail for ``alert`` (plain text: body, then the structured fields)."""
    message = EmailMessage()
    message["Subject"] = alert.title
    message["From"] = smtp.sender
    message["To"] = ", ".join(smtp.recipients)
    details = "\n".join(
        f"{key}: {value}" for key, value in alert.fields.items() if value not in (None, "", [])
    )
    message.set_content(f"{alert.text}\n\n--\n{details}\n")
    return message


def send_email(
    alert: Alert,
    smtp: SmtpSettings,
    attempts: int = 3,
    backoff_seconds: float = 1.0,
    timeout_seconds: float = 10.0,
) -> None:
    """Send ``alert`` by e-mail, retrying disconnects, network errors and SMTP 4xx replies.

    Args:
        alert: The alert.
        smtp: Server, credentials and addresses.
        attempts: Tries in total.
        backoff_seconds: First retry delay, doubled each time.
        timeout_seconds: Socket timeout.

    Raises:
        AlertDeliveryError: When delivery failed for good.
    """
    message = build_email(alert, smtp)
    tls = ssl.create_default_context()

    def send() -> None:
        client: smtplib.SMTP
        if smtp.scheme == "smtps":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout_seconds, context=tls)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout_seconds)
        with client:
            if smtp.scheme == "smtp+starttls":
                client.starttls(context=tls)
            if smtp.username and smtp.password:
                client.login(smtp.username, smtp.password)
            client.send_message(message)

    channel = f"smtp {smtp.host}:{smtp.port}"
    _with_retries(send, _smtp_transient, _smtp_describe, channel, attempts, backoff_seconds)


def send_alert(alert: Alert, settings: AlertSettings) -> dict[str, str]:
    """Deliver ``alert`` on every configured channel. Never raises.

    Args:
        alert: The alert.
        settings: Channels and retry policy.

    Returns:
        ``{"webhook": "sent" | "failed: …", "email": …}`` for the configured channels; empty
        when none is configured (which is logged).
    """
    results: dict[str, str] = {}
    if not settings.enabled:
        logger.info(
            "no alert channel configured (QBPA_ALERT_WEBHOOK_URL / QBPA_SMTP_URL); not sending %r",
            alert.title,
        )
        return results
    policy = {
        "attempts": settings.attempts,
        "backoff_seconds": settings.backoff_seconds,
        "timeout_seconds": settings.timeout_seconds,
    }
    if settings.webhook_url:
        try:
            post_webhook(settings.webhook_url, alert.to_payload(), **policy)
            results["webhook"] = "sent"
        except AlertDeliveryError as exc:
            results["webhook"] = f"failed: {exc}"
        except Exception as exc:  # noqa: BLE001 - an alert must never crash its caller
            results["webhook"] = f"failed: {type(exc).__name__}"
    if settings.smtp:
        try:
            send_email(alert, settings.smtp, **policy)
            results["email"] = "sent"
        except AlertDeliveryError as exc:
            results["email"] = f"failed: {exc}"
        except Exception as exc:  # noqa: BLE001 - an alert must never crash its caller
            results["email"] = f"failed: {type(exc).__name__}"
    for channel, outcome in results.items():
        if outcome == "sent":
            logger.info("alert %r sent by %s", alert.title, channel)
        else:
            logger.error("alert %r not delivered by %s: %s", alert.title, channel, outcome)
    return results
