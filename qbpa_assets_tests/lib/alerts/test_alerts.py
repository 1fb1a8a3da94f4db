"""Alert delivery against a real local HTTP server and a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import logging

import pytest

from qbpa_assets.lib import alerts
from qbpa_assets.lib.alerts import (
    AlertSettings,
    SmtpSettings,
    build_rejected_orders_alert,
    build_run_failure_alert,
    redact,
    send_alert,
    summarize_error,
)
from qbpa_assets_tests.fixtures.alerting import (
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpServer,
    WebhookServer,
    free_port,
)

CLIENT_SECRET = "qbo-client-secret-0123456789"


def settings(webhook_url: str | None = None, smtp_url: str | None = None) -> AlertSettings:
    env = {"QBPA_UI_BASE_URL": "https://dagster.example.com/"}
    if webhook_url:
        env["QBPA_ALERT_WEBHOOK_URL"] = webhook_url
    if smtp_url:
        env["QBPA_SMTP_URL"] = smtp_url
        env["QBPA_SMTP_PASSWORD"] = SMTP_PASSWORD
    return AlertSettings.from_env(env, attempts=3, backoff_seconds=0.01, timeout_seconds=3)


def failure_alert():
    error = (
        "dagster._core.errors.DagsterExecutionStepExecutionError: Error in op\n"
        f"RuntimeError: token refresh failed for client_secret={CLIENT_SECRET}\n"
        "  connecting to sftp://inventiv:ftp-pass-123@ftp.example.com/in\n"
        "  Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig\n"
        "  DSN=Inventiv;UID=pa;PWD=odbc-secret-pw;\n"
    )
    return build_run_failure_alert(
        job_name="nightly_invoice_job",
        run_id="0f1e2d3c-aaaa-bbbb-cccc-123456789abc",
        failed_steps=["inventiv_ftp__invoice_fil"],
        error=error,
        ui_base_url="https://dagster.example.com/",
        partition_key="2024-05-01",
    )


SECRETS = [
    CLIENT_SECRET,
    "ftp-pass-123",
    "eyJhbGciOiJIUzI1NiJ9.payload.sig",
    "odbc-secret-pw",
    SMTP_PASSWORD,
    "webhook-path-secret",
]


# ---------------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("login to sftp://user:hunter2pw@host/dir failed", "hunter2pw"),
        ("DRIVER={PostgreSQL Unicode};PWD=s3cretpw;UID=x", "s3cretpw"),
        ('{"refresh_token": "AB11-refresh-value"}', "AB11-refresh-value"),
        ("password='quoted pw'", "quoted"),
        ("Authorization: Bearer abcdef123456", "abcdef123456"),
        ("the secret is " + CLIENT_SECRET, CLIENT_SECRET),
    ],
)
def test_redact_removes_credentials(text: str, secret: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QBO_CLIENT_SECRET", CLIENT_SECRET)
    cleaned = redact(text)
    assert secret not in cleaned
    assert "***" in cleaned


def test_redact_keeps_ordinary_text():
    assert redact("Customer 42 not found in QuickBooks", secrets=[]) == (
        "Customer 42 not found in QuickBooks"
    )


def test_summarize_error_keeps_first_lines_only():
    text = "\n".join(f"line {i}" for i in range(40))
    summary = summarize_error(text, max_lines=5)
    assert summary.splitlines()[:5] == [f"line {i}" for i in range(5)]
    assert "line 5" not in summary
    assert "35 more lines" in summary
    assert len(summarize_error("x" * 10_000, max_line_chars=50)) == 50


def test_run_failure_alert_content():
    payload = failure_alert().to_payload()
    assert payload["kind"] == "run_failure"
    assert payload["job"] == "nightly_invoice_job"
    assert payload["run_id"] == "0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
    assert payload["failed_steps"] == ["inventiv_ftp__invoice_fil"]
    assert payload["partition"] == "2024-05-01"
    assert "RuntimeError: token refresh failed" in payload["error"]
    assert payload["url"] == (
        "https://dagster.example.com/runs/0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
    )
    assert payload["url"] in payload["text"]
    dumped = json.dumps(payload)
    for secret in SECRETS:
        assert secret not in dumped


def test_smtp_url_parsing():
    parsed = SmtpSettings.from_url(
        "smtp+starttls://bot%40acme.com@mail.acme.com?from=qbpa@acme.com&to=a@acme.com,b@acme.com",
        password="pw",
    )
    assert (parsed.scheme, parsed.host, parsed.port) == ("smtp+starttls", "mail.acme.com", 587)
    assert parsed.username == "bot@acme.com"
    assert parsed.sender == "qbpa@acme.com"
    assert parsed.recipients == ("a@acme.com", "b@acme.com")
    assert "pw" not in repr(parsed)
    assert SmtpSettings.from_url("smtps://mail.acme.com?to=a@acme.com").port == 465


@pytest.mark.parametrize(
    "url",
    ["http://mail.acme.com?to=a@b.c", "smtp://mail.acme.com", "smtp://u:topsecretpw@:25?to=a@b.c"],
)
def test_smtp_url_errors_do_not_echo_the_url(url: str):
    with pytest.raises(ValueError) as excinfo:
        SmtpSettings.from_url(url)
    assert "topsecretpw" not in str(excinfo.value)


def test_settings_from_env_without_channels_is_disabled():
    assert not AlertSettings.from_env({}).enabled
    assert AlertSettings.from_env({}).ui_base_url == "http://127.0.0.1:3000"
    bad = AlertSettings.from_env({"QBPA_SMTP_URL": "smtp://host-without-recipient"})
    assert not bad.enabled


# ---------------------------------------------------------------------------------- delivery


def test_webhook_receives_json_payload(webhook: WebhookServer):
    results = send_alert(failure_alert(), settings(webhook_url=webhook.url))
    assert results == {"webhook": "sent"}
    assert len(webhook.requests) == 1
    request = webhook.requests[0]
    assert request["path"] == "/hooks/T000/B000/webhook-path-secret"
    assert request["headers"]["Content-Type"] == "application/json"
    payload = webhook.payloads()[0]
    assert payload["job"] == "nightly_invoice_job"
    assert payload["failed_steps"] == ["inventiv_ftp__invoice_fil"]
    for secret in SECRETS[:-1]:
        assert secret not in request["body"].decode()


def test_webhook_retries_a_500_then_succeeds(webhook: WebhookServer):
    webhook.statuses.extend([500, 503])
    results = send_alert(failure_alert(), settings(webhook_url=webhook.url))
    assert results == {"webhook": "sent"}
    assert len(webhook.requests) == 3
    assert webhook.payloads()[0] == webhook.payloads()[2]


def test_webhook_does_not_retry_a_4xx(webhook: WebhookServer):
    webhook.statuses.append(404)
    results = send_alert(failure_alert(), settings(webhook_url=webhook.url))
    assert results["webhook"].startswith("failed:") and "HTTP 404 (permanent)" in results["webhook"]
    assert len(webhook.requests) == 1


def test_webhook_gives_up_after_persistent_5xx(webhook: WebhookServer):
    webhook.statuses.extend([502] * 5)
    results = send_alert(failure_alert(), settings(webhook_url=webhook.url))
    assert "gave up after 3 attempts" in results["webhook"]
    assert len(webhook.requests) == 3


def test_channel_down_is_logged_not_raised(caplog: pytest.LogCaptureFixture):
    dead_webhook = f"http://127.0.0.1:{free_port()}/hooks/webhook-path-secret"
    dead_smtp = f"smtp://{SMTP_USER}@127.0.0.1:{free_port()}?to=ops@example.com"
    with caplog.at_level(logging.WARNING, logger=alerts.__name__):
        results = send_alert(
            failure_alert(), settings(webhook_url=dead_webhook, smtp_url=dead_smtp)
        )
    assert results["webhook"].startswith("failed:") and "ConnectionError" in results["webhook"]
    assert results["email"].startswith("failed:") and "gave up" in results["email"]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("not delivered by webhook" in m for m in errors)
    assert any("not delivered by email" in m for m in errors)
    retries = [r for r in caplog.records if r.levelno == logging.WARNING and "retry" in r.message]
    assert len(retries) == 4  # two retries per channel
    log_text = caplog.text
    assert "webhook-path-secret" not in log_text and SMTP_PASSWORD not in log_text


def test_email_is_sent_with_login(smtp: SmtpServer):
    results = send_alert(failure_alert(), settings(smtp_url=smtp.url()))
    assert results == {"email": "sent"}
    assert smtp.logins == [SMTP_USER]
    (mail_from, rcpt_tos, message) = smtp.messages[0]
    assert mail_from == SMTP_USER
    assert rcpt_tos == ["ops@example.com", "cfo@example.com"]
    assert message["Subject"] == "[qbpa] job nightly_invoice_job failed [partition 2024-05-01]"
    body = message.get_payload(decode=True).decode()
    assert "inventiv_ftp__invoice_fil" in body
    assert "https://dagster.example.com/runs/0f1e2d3c-aaaa-bbbb-cccc-123456789abc" in body
    for secret in SECRETS:
        assert secret not in message.as_string()


def test_email_wrong_password_is_permanent(smtp: SmtpServer):
    env = {"QBPA_SMTP_URL": smtp.url(), "QBPA_SMTP_PASSWORD": "wrong-password"}
    wrong = AlertSettings.from_env(env, backoff_seconds=0.01, timeout_seconds=3)
    results = send_alert(failure_alert(), wrong)
    assert "SMTPAuthenticationError 535 (permanent)" in results["email"]
    assert "wrong-password" not in results["email"]
    assert smtp.messages == []


def test_both_channels_and_rejected_orders_warning(webhook: WebhookServer, smtp: SmtpServer):
    table = "| order | reason |\n|---|---|\n| 1001 | unknown item 77 |\n| 1002 | unknown customer |"
    alert = build_rejected_orders_alert(
        rejected=2,
        rejects_markdown=table,
        partition_key="2024-05-02",
        run_id="run-123",
        ui_base_url="https://dagster.example.com",
    )
    results = send_alert(alert, settings(webhook_url=webhook.url, smtp_url=smtp.url()))
    assert results == {"webhook": "sent", "email": "sent"}
    payload = webhook.payloads()[0]
    assert payload["kind"] == "rejected_orders" and payload["severity"] == "warning"
    assert payload["rejected"] == 2 and "unknown item 77" in payload["rejects"]
    assert payload["url"] == "https://dagster.example.com/runs/run-123"
    assert payload["asset_url"] == "https://dagster.example.com/assets/quickbooks/sales_orders"
    assert "2 rejected order(s) waiting for 2024-05-02" in smtp.messages[0][2]["Subject"]


def test_no_channel_is_a_logged_noop(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.INFO, logger=alerts.__name__):
        assert send_alert(failure_alert(), AlertSettings()) == {}
    assert "no alert channel configured" in caplog.text
