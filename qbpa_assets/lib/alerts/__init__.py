"""Operational alerts: build a message, post it to a webhook and/or e-mail it over SMTP.

Plain Python (no Dagster) so the Dagster sensors stay thin and the delivery code can be tested
against real local HTTP and SMTP servers. Two rules shape everything here:

* **No secret leaves the process.** Error text is cut to its first lines and scrubbed of the
  values of the known secret variables and of password/token-looking fragments; the webhook URL
  (a Slack/Teams webhook URL *is* a credential) and the SMTP password are never logged.
* **Alerting never takes the platform down.** Transient failures (connection refused, timeouts,
  HTTP 429/5xx, SMTP 4xx) are retried with exponential backoff; whatever still fails is logged
  and reported in the return value of :func:`send_alert`, which never raises.

To send an alert from anywhere: ``notify(Alert(kind=..., severity=..., title=..., text=...))``
(:func:`qbpa_assets.lib.alerts.send.notify`; channels from the environment).

Where each part lives: :mod:`.message` (the :class:`Alert` and its builders), :mod:`.settings`
(``QBPA_ALERT_WEBHOOK_URL``, ``QBPA_SMTP_URL``, ``QBPA_UI_BASE_URL``), :mod:`.webhook`,
:mod:`.smtp`, :mod:`.retries` (backoff, through :mod:`qbpa_assets.lib.retry`), :mod:`.send`
(every channel); redaction is :mod:`qbpa_assets.lib.redact`.
"""

from qbpa_assets.lib.alerts.message import (
    DEFAULT_UI_BASE_URL,
    Alert,
    asset_url,
    build_rejected_orders_alert,
    build_run_failure_alert,
    build_stale_file_alert,
    run_url,
    summarize_error,
)
from qbpa_assets.lib.alerts.retries import AlertDeliveryError
from qbpa_assets.lib.alerts.send import notify, send_alert
from qbpa_assets.lib.alerts.settings import AlertSettings, SmtpSettings
from qbpa_assets.lib.alerts.smtp import build_email, send_email
from qbpa_assets.lib.alerts.webhook import post_webhook
from qbpa_assets.lib.redact import SECRET_ENV_VARS, redact

__all__ = [
    "DEFAULT_UI_BASE_URL",
    "SECRET_ENV_VARS",
    "Alert",
    "AlertDeliveryError",
    "AlertSettings",
    "SmtpSettings",
    "asset_url",
    "build_email",
    "build_rejected_orders_alert",
    "build_run_failure_alert",
    "build_stale_file_alert",
    "notify",
    "post_webhook",
    "redact",
    "run_url",
    "send_alert",
    "send_email",
    "summarize_error",
]
