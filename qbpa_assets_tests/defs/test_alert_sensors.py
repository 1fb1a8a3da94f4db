"""The alert sensors, evaluated against a real instance and real local webhook/SMTP servers."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from qbpa_assets.defs.alerts.sensors import (
    qbpa_rejected_orders_alert,
    qbpa_run_failure_alert,
)
from qbpa_assets_tests.fixtures.alerting import (
    SMTP_PASSWORD,
    SmtpServer,
    WebhookServer,
    free_port,
)

CLIENT_SECRET = "sensor-test-client-secret-987"
UI = "https://dagster.example.com"


@pytest.fixture
def channels(
    webhook_server: WebhookServer, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[WebhookServer, SmtpServer]:
    webhook_server.reset()
    smtp_server.reset()
    monkeypatch.setenv("QBPA_ALERT_WEBHOOK_URL", webhook_server.url)
    monkeypatch.setenv("QBPA_SMTP_URL", smtp_server.url())
    monkeypatch.setenv("QBPA_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("QBPA_UI_BASE_URL", UI)
    monkeypatch.setenv("QBO_CLIENT_SECRET", CLIENT_SECRET)
    return webhook_server, smtp_server


@pytest.fixture
def no_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QBPA_ALERT_WEBHOOK_URL", "QBPA_SMTP_URL", "QBPA_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


# ------------------------------------------------------------------------- run failure sensor


@dg.op
def extract_ok() -> int:
    return 1


@dg.op
def upload_fil(value: int) -> None:
    raise RuntimeError(
        f"upload of invoice.fil failed: server said no (client_secret={CLIENT_SECRET})\n"
        "second line of detail"
    )


@dg.job
def tiny_failing_job() -> None:
    upload_fil(extract_ok())


def failure_context(instance: dg.DagsterInstance) -> tuple[dg.RunStatusSensorContext, str]:
    result = tiny_failing_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="qbpa_run_failure_alert",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    )
    return context, result.run_id


def test_run_failure_sensor_posts_and_mails(instance, channels):
    webhook, smtp = channels
    context, run_id = failure_context(instance)
    qbpa_run_failure_alert(context)

    [payload] = webhook.payloads()
    assert payload["kind"] == "run_failure"
    assert payload["job"] == "tiny_failing_job"
    assert payload["run_id"] == run_id
    assert payload["failed_steps"] == ["upload_fil"]
    assert "upload of invoice.fil failed" in payload["error"]
    assert "second line of detail" in payload["error"]
    assert payload["url"] == f"{UI}/runs/{run_id}"
    [(_, rcpt, message)] = smtp.messages
    assert rcpt == ["ops@example.com", "cfo@example.com"]
    assert "tiny_failing_job" in message["Subject"]
    assert f"{UI}/runs/{run_id}" in message.get_payload(decode=True).decode()
    everything = webhook.requests[0]["body"].decode() + message.as_string()
    assert CLIENT_SECRET not in everything
    assert SMTP_PASSWORD not in everything


def test_run_failure_sensor_without_channels_is_a_noop(instance, no_channels, webhook_server):
    webhook_server.reset()
    context, _ = failure_context(instance)
    assert qbpa_run_failure_alert(context) is None
    assert webhook_server.requests == []


def test_run_failure_sensor_survives_a_dead_channel(instance, monkeypatch, caplog):
    monkeypatch.setenv("QBPA_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/hook")
    monkeypatch.delenv("QBPA_SMTP_URL", raising=False)
    context, _ = failure_context(instance)
    with caplog.at_level(logging.ERROR, logger="qbpa_assets.lib.alerts"):
        qbpa_run_failure_alert(context)  # must not raise
    assert "not delivered by webhook" in caplog.text


def test_sensor_definitions():
    dg.Definitions.validate_loadable(
        dg.Definitions(
            jobs=[tiny_failing_job], sensors=[qbpa_run_failure_alert, qbpa_rejected_orders_alert]
        )
    )
    assert qbpa_run_failure_alert.name == "qbpa_run_failure_alert"
    assert qbpa_run_failure_alert.default_status == dg.DefaultSensorStatus.RUNNING
    assert qbpa_rejected_orders_alert.name == "qbpa_rejected_orders_alert"
    assert qbpa_rejected_orders_alert.default_status == dg.DefaultSensorStatus.RUNNING
    assert qbpa_rejected_orders_alert.minimum_interval_seconds == 300
    assert qbpa_rejected_orders_alert.targets == []  # it only notifies


def test_alerts_folder_autoloads_exactly_its_sensors():
    import qbpa_assets.defs.alerts as alerts_folder

    # The same module walk `load_from_defs_folder` does, limited to this folder.
    defs = dg.load_defs(alerts_folder)
    assert sorted(s.name for s in defs.sensors) == [
        "qbpa_rejected_orders_alert",
        "qbpa_run_failure_alert",
        "qbpa_stale_file_alert",
        "qbpa_token_expiry_alert",
    ]
    assert all(s.targets == [] for s in defs.sensors)  # they only notify


# ---------------------------------------------------------------------- rejected orders sensor

REJECTS = "| order | reason |\n|---|---|\n| 1001 | unknown item 77 |"


def report(instance: dg.DagsterInstance, rejected: int, partition: str = "2024-05-02") -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=["quickbooks", "sales_orders"],
            partition=partition,
            metadata={
                "created": 5,
                "rejected": dg.MetadataValue.int(rejected),
                "rejects": dg.MetadataValue.md(REJECTS if rejected else ""),
            },
        )
    )


def test_rejected_orders_alerts_once_per_materialization(instance, channels):
    webhook, smtp = channels
    context = dg.build_sensor_context(instance=instance)

    first = qbpa_rejected_orders_alert(context)
    assert isinstance(first, dg.SkipReason)
    assert "no new" in first.skip_message
    assert webhook.requests == []

    report(instance, rejected=1)
    second = qbpa_rejected_orders_alert(context)
    assert isinstance(second, dg.SkipReason)
    assert "2024-05-02: 1 rejected, webhook sent, email sent" in second.skip_message
    [payload] = webhook.payloads()
    assert payload["kind"] == "rejected_orders"
    assert payload["rejected"] == 1 and payload["partition"] == "2024-05-02"
    assert "unknown item 77" in payload["rejects"]
    assert payload["asset_url"] == f"{UI}/assets/quickbooks/sales_orders"
    assert len(smtp.messages) == 1
    assert json.loads(context.cursor)["storage_id"] > 0

    third = qbpa_rejected_orders_alert(context)  # same materialization: no second alert
    assert "no new" in third.skip_message
    assert len(webhook.requests) == 1 and len(smtp.messages) == 1

    report(instance, rejected=0, partition="2024-05-03")
    report(instance, rejected=2, partition="2024-05-04")
    fourth = qbpa_rejected_orders_alert(context)
    assert "checked 2 materialization(s)" in fourth.skip_message
    assert [p["partition"] for p in webhook.payloads()] == ["2024-05-02", "2024-05-04"]


def test_rejected_orders_first_tick_looks_at_latest_only(instance, channels):
    webhook, _ = channels
    report(instance, rejected=3, partition="2024-05-01")
    report(instance, rejected=1, partition="2024-05-02")
    result = qbpa_rejected_orders_alert(dg.build_sensor_context(instance=instance))
    assert "checked 1 materialization(s)" in result.skip_message
    assert [p["partition"] for p in webhook.payloads()] == ["2024-05-02"]


def test_rejected_orders_without_channels_still_advances(instance, no_channels):
    report(instance, rejected=4)
    context = dg.build_sensor_context(instance=instance)
    result = qbpa_rejected_orders_alert(context)
    assert "4 rejected, no alert channel configured" in result.skip_message
    assert "no new" in qbpa_rejected_orders_alert(context).skip_message


def test_rejected_orders_dead_channel_is_tried_once_per_tick(instance, monkeypatch, caplog):
    monkeypatch.setenv("QBPA_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/hook")
    monkeypatch.delenv("QBPA_SMTP_URL", raising=False)
    context = dg.build_sensor_context(instance=instance)
    qbpa_rejected_orders_alert(context)  # first tick: sets the cursor
    report(instance, rejected=1, partition="2024-05-05")
    report(instance, rejected=1, partition="2024-05-06")
    with caplog.at_level(logging.WARNING, logger="qbpa_assets.lib.alerts"):
        result = qbpa_rejected_orders_alert(context)  # must not raise
    assert "2024-05-05: 1 rejected, webhook failed" in result.skip_message
    assert "every channel failed" in result.skip_message
    assert "2024-05-06" not in result.skip_message
    assert "no new" in qbpa_rejected_orders_alert(context).skip_message  # moved on


# ------------------------------------------------------------------------- stale .fil files


@pytest.fixture(scope="module")
def repository() -> dg.RepositoryDefinition:
    from qbpa_assets.definitions import defs

    return defs().get_repository_def()


def test_stale_file_alerts_like_a_failure(instance, channels, repository, monkeypatch):
    """A .fil file not delivered for more than its 26 h freshness window alerts once."""
    from qbpa_assets.defs.alerts import freshness

    webhook, smtp = channels
    fil_keys = {"inventiv_ftp/customer_fil", "inventiv_ftp/item_fil", "inventiv_ftp/invoice_fil"}
    policies = {k.to_user_string(): p for k, p in freshness._policies(repository).items()}
    assert fil_keys <= set(policies)  # declared in Dagster's own terms on the assets
    assert {p.fail_window.to_timedelta() for p in policies.values()} == {timedelta(hours=26)}

    now = datetime.now(UTC)
    instance.report_runless_asset_event(dg.AssetMaterialization(["inventiv_ftp", "customer_fil"]))
    context = dg.build_sensor_context(instance=instance, repository_def=repository)
    fresh = freshness.qbpa_stale_file_alert(context)
    assert fresh.skip_message == "every file is fresh" and webhook.requests == []

    # A day and three hours later nothing was delivered again: every file is stale.
    monkeypatch.setattr(freshness, "_now", lambda: now + timedelta(hours=27))
    stale = freshness.qbpa_stale_file_alert(context)
    assert "inventiv_ftp/customer_fil" in stale.skip_message
    payloads = {p["asset"]: p for p in webhook.payloads()}
    assert fil_keys <= set(payloads)
    customer = payloads["inventiv_ftp/customer_fil"]
    assert customer["kind"] == "stale_file" and customer["severity"] == "error"
    assert customer["hours_since"] >= 27 and customer["fail_window_hours"] == 26
    assert customer["url"] == f"{UI}/assets/inventiv_ftp/customer_fil"
    assert payloads["inventiv_ftp/invoice_fil"]["last_delivered"] is None
    assert len(smtp.messages) == len(webhook.requests)
    assert CLIENT_SECRET not in json.dumps(webhook.payloads())

    # The same stale episode is not alerted again; a new delivery that goes stale is.
    monkeypatch.setattr(freshness, "_now", lambda: now + timedelta(hours=28))
    count = len(webhook.requests)
    freshness.qbpa_stale_file_alert(context)
    assert len(webhook.requests) == count
    instance.report_runless_asset_event(dg.AssetMaterialization(["inventiv_ftp", "customer_fil"]))
    monkeypatch.setattr(freshness, "_now", lambda: now + timedelta(hours=60))
    freshness.qbpa_stale_file_alert(context)
    assert [p["asset"] for p in webhook.payloads()[count:]] == ["inventiv_ftp/customer_fil"]


def test_stale_file_never_delivered_waits_for_its_window(instance, no_channels, repository):
    """On a fresh deployment nothing is stale before a whole window has passed."""
    from qbpa_assets.defs.alerts import freshness

    context = dg.build_sensor_context(instance=instance, repository_def=repository)
    assert freshness.qbpa_stale_file_alert(context).skip_message == "every file is fresh"


def test_stale_file_dead_channel_is_tried_once_per_tick_and_again_later(
    instance, monkeypatch, repository
):
    from qbpa_assets.defs.alerts import freshness

    monkeypatch.setenv("QBPA_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/hook")
    monkeypatch.delenv("QBPA_SMTP_URL", raising=False)
    context = dg.build_sensor_context(instance=instance, repository_def=repository)
    now = datetime.now(UTC)
    freshness.qbpa_stale_file_alert(context)  # first tick: every file counts from now
    calls = []
    real_notify = freshness.notify
    monkeypatch.setattr(
        freshness, "notify", lambda *a, **k: calls.append(1) or real_notify(*a, **k)
    )
    monkeypatch.setattr(freshness, "_now", lambda: now + timedelta(hours=27))
    result = freshness.qbpa_stale_file_alert(context)  # must not raise
    assert "inventiv_ftp/invoice_fil" in result.skip_message
    assert len(calls) == 1  # the dead webhook is not retried for every stale file
    freshness.qbpa_stale_file_alert(context)
    assert len(calls) == 2  # nothing was delivered: the next tick tries again
