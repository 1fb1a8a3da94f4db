"""The e-mail channel: the alert as a plain-text message over SMTP, SMTPS or STARTTLS.

Disconnects, network errors and SMTP 4xx replies are retried; the password is never logged.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from qbpa_assets.lib.alerts.message import Alert
from qbpa_assets.lib.alerts.retries import with_retries
from qbpa_assets.lib.alerts.settings import SmtpSettings


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
    with_retries(send, _smtp_transient, _smtp_describe, channel, attempts, backoff_seconds)
