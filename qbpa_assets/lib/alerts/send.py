"""Sending an alert on every configured channel; :func:`notify` is the one call for callers.

Alerting never takes the platform down: :func:`send_alert` and :func:`notify` never raise; each
channel's outcome is logged and returned.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

from qbpa_assets.lib.alerts.message import Alert
from qbpa_assets.lib.alerts.retries import AlertDeliveryError
from qbpa_assets.lib.alerts.settings import AlertSettings
from qbpa_assets.lib.alerts.smtp import send_email
from qbpa_assets.lib.alerts.webhook import post_webhook
from qbpa_assets.lib.redact import redact

logger = logging.getLogger(__name__)


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


def notify(
    alert: Alert,
    environ: Mapping[str, str] | None = None,
    settings: AlertSettings | None = None,
) -> dict[str, str]:
    """Send ``alert`` with the channels configured in the environment. Never raises.

    The one call for any part of qbpa that must tell a human something (a failed run, a stale
    file, a configuration error, a database outage, a refresh token about to expire, rejected
    orders): build an :class:`Alert`, pass it here. Its title and text are redacted once more,
    so a caller that quotes an error cannot leak a secret.

    Args:
        alert: The alert (``kind`` names its type, e.g. ``"token_expiry"``).
        environ: Variables to read the channels from (default ``os.environ``).
        settings: Explicit settings instead of the environment (tests, retry policy).

    Returns:
        The outcome per configured channel, as :func:`send_alert` returns it; empty when no
        channel is configured.
    """
    if settings is None:
        settings = AlertSettings.from_env(environ)
    safe = dataclasses.replace(alert, title=redact(alert.title), text=redact(alert.text))
    return send_alert(safe, settings)
