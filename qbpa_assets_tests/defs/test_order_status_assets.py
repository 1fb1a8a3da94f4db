"""Order status assets, the open-rejects check and alert, the reconciliation check.

Real parts: the SQLite ODBC Inventiv database, the emulator, a Dagster instance, the local
webhook server for alerts.
"""

from datetime import date, datetime, timedelta

import dagster as dg
import pytest

from qbpa_assets.defs.keys import ORDER_STATUS, SALES_ORDER_STATUS, SALES_ORDERS
from qbpa_assets.defs.master_data.assets import (
    quickbooks_customers,
    quickbooks_items,
    staging_customers,
    staging_items,
)
from qbpa_assets.defs.orders.assets import inventiv_orders, sales_orders
from qbpa_assets.defs.orders.reconciliation import orders_reconciled
from qbpa_assets.defs.orders.status import order_status, sales_order_status
from qbpa_assets.defs.resources.inventiv_db import InventivDbResource
from qbpa_assets.sandbox.inventiv_demo import DemoLine, DemoOrder
from qbpa_assets_tests.fixtures.stack import order_resources

pytestmark = pytest.mark.e2e

TODAY = date.today()
YESTERDAY = TODAY - timedelta(days=1)
ORDER_ASSETS = [inventiv_orders, sales_orders, sales_order_status, order_status]


def _order(company, order_id: int, day: date, item: str | None = None) -> DemoOrder:
    customers, items = company.usable_customers(), company.usable_items()
    return DemoOrder(
        order_id=order_id,
        order_no=f"PA-{order_id}",
        order_date=day,
        customer_id=customers[order_id % len(customers)]["Id"],
        lines=[DemoLine(item_id=item or items[order_id % len(items)]["Id"], qty=2, unit_price=5)],
        modified_at=datetime.combine(day, datetime.min.time()) + timedelta(hours=9),
    )


@pytest.fixture
def stack(fresh_emulator, sqlite_odbc_db, warehouse, data_dir, webhook, monkeypatch):
    monkeypatch.setenv("QBPA_ALERT_WEBHOOK_URL", webhook.url)
    emu = fresh_emulator()
    resources = order_resources(emu, sqlite_odbc_db, warehouse, data_dir)
    with dg.DagsterInstance.ephemeral() as instance:
        master = dg.materialize(
            [quickbooks_customers, quickbooks_items, staging_customers, staging_items],
            resources=resources,
            instance=instance,
        )
        assert master.success
        yield emu, sqlite_odbc_db, resources, instance, webhook


def _run(resources, instance, day: date, **kw) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [*ORDER_ASSETS, orders_reconciled],
        partition_key=day.isoformat(),
        resources=resources,
        instance=instance,
        raise_on_error=False,
        **kw,
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def _meta(result, key: dg.AssetKey) -> dict:
    [mat] = result.asset_materializations_for_node("__".join(key.path))
    return {k: v.value for k, v in mat.metadata.items()}


def _checks(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_an_older_days_reject_stays_visible_and_is_alerted(stack) -> None:
    emu, db, resources, instance, webhook = stack
    db.insert_orders(
        [_order(emu.company, 1, YESTERDAY), _order(emu.company, 2, YESTERDAY, item="999999")]
    )
    first = _run(resources, instance, YESTERDAY)
    status_rows = {
        str(r[0]): r[1:]
        for r in db.execute("SELECT ORDER_ID, STATUS, MESSAGE FROM QBPA_ORDER_STATUS")
    }
    assert status_rows["1"][0] == "created"
    assert status_rows["2"][0] == "rejected" and "item 999999" in status_rows["2"][1]
    [alert] = webhook.payloads()
    assert "PA-2" in alert["text"] and "1 PocketAdvantage order(s) rejected" in alert["text"]
    assert _checks(first)["no_rejected_orders"].passed is False

    # Today runs clean, yet yesterday's reject keeps the check failing, with its table.
    db.insert_orders([_order(emu.company, 3, TODAY)])
    today = _run(resources, instance, TODAY)
    check = _checks(today)["no_rejected_orders"]
    assert check.passed is False
    assert check.metadata["rejected"].value == 0 and check.metadata["open_rejects"].value == 1
    assert "PA-2" in check.metadata["open_rejects_all_days"].value
    assert YESTERDAY.isoformat() in check.metadata["open_rejects_all_days"].value
    meta = _meta(today, SALES_ORDER_STATUS)
    assert meta["open_rejects"] == 1 and meta["open_rejects_alert"] == "alerted already today"
    assert len(webhook.payloads()) == 1  # the same open reject is not re-sent within the day
    assert _checks(today)["orders_reconciled"].passed is True

    # Fixed in PocketAdvantage: the next run of its day creates it, the check passes.
    db.set_line(2, 1, ITEM_ID=emu.company.usable_items()[0]["Id"])
    fixed = _run(resources, instance, YESTERDAY)
    assert _checks(fixed)["no_rejected_orders"].passed is True
    assert _meta(fixed, SALES_ORDER_STATUS)["open_rejects"] == 0
    assert dict(db.execute("SELECT ORDER_ID, STATUS FROM QBPA_ORDER_STATUS WHERE ORDER_ID = 2"))


def test_reconciliation_fails_naming_a_stranded_order(stack) -> None:
    emu, db, resources, instance, _ = stack
    db.insert_orders([_order(emu.company, 10, TODAY), _order(emu.company, 11, TODAY)])
    ok = _run(resources, instance, TODAY)
    check = _checks(ok)["orders_reconciled"]
    assert check.passed is True
    assert "| created | 2 | 20.00 | 2 | 20.00 |" in check.metadata["reconciliation"].value

    # Order 12 is copied by a run that then died before the import wrote anything.
    db.insert_orders([_order(emu.company, 12, TODAY)])
    copied = dg.materialize(
        [inventiv_orders], partition_key=TODAY.isoformat(), resources=resources, instance=instance
    )
    assert copied.success
    db.insert_orders([_order(emu.company, 13, TODAY)])  # entered after the run: waiting
    stranded = dg.materialize(
        [*ORDER_ASSETS, orders_reconciled],
        selection=dg.AssetSelection.checks(orders_reconciled),
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )
    check = _checks(stranded)["orders_reconciled"]
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.ERROR
    assert "12" in check.description and "13" not in check.description
    assert "| 12 | not in the ledger" in check.metadata["stranded"].value
    assert check.metadata["waiting_for_a_run"].value == 1


def test_status_write_failure_fails_the_run_and_the_rows_wait(stack, tmp_path) -> None:
    emu, db, resources, instance, _ = stack
    db.insert_orders([_order(emu.company, 20, TODAY)])
    imported = dg.materialize(
        [inventiv_orders, sales_orders, sales_order_status],
        partition_key=TODAY.isoformat(),
        resources=resources,
        instance=instance,
    )
    assert imported.success
    down = {
        **resources,
        "inventiv_db": InventivDbResource(
            connection_string=f"Driver=SQLite3;Database={tmp_path / 'gone' / 'inv.db'}"
        ),
    }
    result = dg.materialize(
        [order_status],
        resources=down,
        instance=instance,
        raise_on_error=False,
        selection=[ORDER_STATUS],
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "wait in DuckDB" in failure.message or "wait in DuckDB" in str(
        failure.event_specific_data
    )
    _run(resources, instance, TODAY)
    assert [r[1] for r in db.execute("SELECT ORDER_ID, STATUS FROM QBPA_ORDER_STATUS")] == [
        "created"
    ]


def test_an_edit_in_pocketadvantage_reaches_quickbooks_and_the_status(stack) -> None:
    emu, db, resources, instance, _ = stack
    db.insert_orders([_order(emu.company, 30, TODAY)])
    _run(resources, instance, TODAY)
    db.set_line(30, 1, QTY=7)
    edited = _run(resources, instance, TODAY)
    assert "| 30 | updated |" in _meta(edited, SALES_ORDERS)["edited_orders"]
    [doc] = [d for d in emu.entities("Estimate") if d["DocNumber"] == "PA-30"]
    assert doc["Line"][0]["SalesItemLineDetail"]["Qty"] == 7 and doc["SyncToken"] == "1"
    [(status, message)] = db.execute("SELECT STATUS, MESSAGE FROM QBPA_ORDER_STATUS")
    assert status == "updated" and "applied to Estimate" in message


def test_status_assets_are_in_the_order_job_and_after_the_nightly_run() -> None:
    from qbpa_assets.definitions import defs

    d = defs()
    job = d.resolve_job_def("sales_order_import_job")
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert {"quickbooks/sales_order_status", "inventiv_db/order_status"} <= keys
    status_job = d.resolve_job_def("order_status_job")
    assert {k.to_user_string() for k in status_job.asset_layer.executable_asset_keys} == {
        "quickbooks/sales_order_status",
        "inventiv_db/order_status",
    }
    sensor = d.resolve_sensor_def("order_status_after_master_data")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_a_successful_nightly_master_data_run_requests_the_status_run() -> None:
    from qbpa_assets.defs.orders.status import order_status_after_master_data

    @dg.op
    def nothing() -> None:
        return None

    @dg.job(name="nightly_master_data_job")
    def stand_in() -> None:
        nothing()

    with dg.DagsterInstance.ephemeral() as instance:
        result = stand_in.execute_in_process(instance=instance)
        context = dg.build_run_status_sensor_context(
            sensor_name="order_status_after_master_data",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=result.get_run_success_event(),
        )
        request = order_status_after_master_data(context)
    assert request.run_key == f"after-{result.run_id}"
    assert order_status_after_master_data.job_name == "order_status_job"
