"""The new-order sensor stops loudly (issue 10, section 3): configuration errors fail the tick
and alert once, a long database outage alerts, a fresh deployment waits for its master data.

Ticks are evaluated with ``build_sensor_context`` against a real ODBC database (SQLite3) and a
real local webhook server.
"""

from __future__ import annotations

import json
import time
from importlib import resources as pkg_resources

import dagster as dg
import pytest

from qbpa_assets.defs.orders.sensors import CONFIG_ALERT_KEY, inventiv_new_orders_sensor
from qbpa_assets.defs.resources.inventiv_db import InventivDbResource
from qbpa_assets.lib.orders.mapping import OrderMappingError
from qbpa_assets_tests.defs.test_orders_assets import _orders, instance_with_master_data
from qbpa_assets_tests.fixtures.alerting import WebhookServer

DOWN = "Driver={No Such Driver};Database=x"


@pytest.fixture
def webhook(webhook_server: WebhookServer, monkeypatch: pytest.MonkeyPatch) -> WebhookServer:
    webhook_server.reset()
    monkeypatch.setenv("QBPA_ALERT_WEBHOOK_URL", webhook_server.url)
    for name in ("QBPA_SMTP_URL", "QBPA_SMTP_PASSWORD", "QBPA_MAPPINGS_DIR"):
        monkeypatch.delenv(name, raising=False)
    return webhook_server


def _evaluate(resource: InventivDbResource, instance: dg.DagsterInstance, cursor=None):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"inventiv_db": resource}
    )
    return inventiv_new_orders_sensor(context)


def _bad_override(tmp_path):
    folder = tmp_path / "maps"
    folder.mkdir()
    text = (pkg_resources.files("qbpa_assets") / "mappings" / "orders.toml").read_text("utf-8")
    bad = text.replace('ShipDate = "o.ship_date"', 'ShipDate = "o.ship_date) FROM x WHERE (1"')
    (folder / "orders.toml").write_text(bad, encoding="utf-8")
    return folder


def test_bad_mapping_override_fails_the_tick_naming_file_and_field_and_alerts_once(
    webhook, sqlite_odbc_db, tmp_path
) -> None:
    folder = _bad_override(tmp_path)
    resource = InventivDbResource(
        connection_string=sqlite_odbc_db.connection_string, mappings_dir=str(folder)
    )
    instance = instance_with_master_data()
    for _ in range(3):  # three ticks, one alert
        with pytest.raises(OrderMappingError) as info:
            _evaluate(resource, instance)
        assert str(folder / "orders.toml") in str(info.value)
        assert "[header] ShipDate" in str(info.value)
        assert "unavailable" not in str(info.value)
    [alert] = webhook.payloads()
    assert alert["kind"] == "configuration_error" and "[header] ShipDate" in alert["text"]
    # Fixed: the sensor resumes, and a later error alerts again.
    good = InventivDbResource(connection_string=sqlite_odbc_db.connection_string)
    result = _evaluate(good, instance)
    assert "No new or changed orders" in result.skip_reason.skip_message
    assert not instance.run_storage.get_cursor_values({CONFIG_ALERT_KEY}).get(CONFIG_ALERT_KEY)
    with pytest.raises(OrderMappingError):
        _evaluate(resource, instance)
    assert len(webhook.payloads()) == 2


def test_bad_variable_fails_the_tick_naming_it(webhook, sqlite_odbc_db, monkeypatch) -> None:
    monkeypatch.setenv("QBPA_DB_OUTAGE_ALERT_MINUTES", "soon")
    resource = InventivDbResource(connection_string=sqlite_odbc_db.connection_string)
    with pytest.raises(ValueError, match="QBPA_DB_OUTAGE_ALERT_MINUTES.*integer"):
        _evaluate(resource, instance_with_master_data())
    assert webhook.payloads()[0]["kind"] == "configuration_error"


def test_outage_is_a_skip_and_alerts_once_it_lasts_too_long(webhook, monkeypatch) -> None:
    monkeypatch.setenv("QBPA_DB_OUTAGE_ALERT_MINUTES", "30")
    resource = InventivDbResource(connection_string=DOWN, password="s3cret-pw")
    instance = instance_with_master_data()
    first = _evaluate(resource, instance)
    assert "Inventiv database unavailable since" in first.skip_reason.skip_message
    assert "s3cret-pw" not in first.skip_reason.skip_message
    assert not webhook.payloads()  # a short outage is only a skip
    # 31 minutes later (the cursor remembers when it started): one alert, not one per tick.
    cursor = json.loads(first.cursor)
    cursor["outage"]["since"] = time.time() - 31 * 60
    later = _evaluate(resource, instance, json.dumps(cursor))
    again = _evaluate(resource, instance, later.cursor)
    assert "(31 min)" in again.skip_reason.skip_message
    [alert] = webhook.payloads()
    assert alert["kind"] == "database_outage" and "s3cret-pw" not in json.dumps(alert)
    assert json.loads(again.cursor)["outage"]["alerted"] is True


def test_outage_end_is_announced(webhook, sqlite_odbc_db) -> None:
    cursor = json.dumps({"outage": {"since": time.time() - 7200, "alerted": True}})
    resource = InventivDbResource(connection_string=sqlite_odbc_db.connection_string)
    result = _evaluate(resource, instance_with_master_data(), cursor)
    assert json.loads(result.cursor)["outage"] is None
    [alert] = webhook.payloads()
    assert alert["resolved"] is True


def test_fresh_deployment_waits_for_the_master_data(
    webhook, fresh_emulator, sqlite_odbc_db
) -> None:
    sqlite_odbc_db.insert_orders(_orders(fresh_emulator().company, 10, 2))
    resource = InventivDbResource(connection_string=sqlite_odbc_db.connection_string)
    fresh = dg.DagsterInstance.ephemeral()
    result = _evaluate(resource, fresh)
    assert not result.run_requests
    message = result.skip_reason.skip_message
    assert "staging/customers, staging/items" in message and "nightly_master_data_job" in message
    assert json.loads(result.cursor)["modified_at"] is None  # no order skipped
    assert not webhook.payloads()
    # Once the master data exists, the same cursor asks for the orders.
    ready = _evaluate(resource, instance_with_master_data(), result.cursor)
    assert len(ready.run_requests) == 1


def test_unset_connection_is_a_skip_not_an_error(webhook) -> None:
    result = _evaluate(InventivDbResource(), instance_with_master_data())
    assert "INVENTIV_DB_CONNECTION is not set" in result.skip_reason.skip_message
    assert not webhook.payloads()
