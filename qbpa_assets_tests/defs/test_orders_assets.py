"""Order import assets and the new-order sensor: real ODBC database, real emulator."""

from datetime import date, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from qbpa_assets.defs.keys import STAGING_CUSTOMERS, STAGING_ITEMS
from qbpa_assets.defs.master_data.assets import (
    quickbooks_customers,
    quickbooks_items,
    staging_customers,
    staging_items,
)
from qbpa_assets.defs.orders.assets import inventiv_orders, sales_orders
from qbpa_assets.defs.orders.sensors import inventiv_new_orders_sensor
from qbpa_assets.defs.resources.inventiv_db import InventivDbResource
from qbpa_assets.defs.resources.warehouse import QbpaSettings
from qbpa_assets.sandbox.inventiv_demo import DemoLine, DemoOrder
from qbpa_assets_tests.fixtures.stack import order_resources

TODAY = date.today()


def _orders(company, first_id: int, count: int, day: date = TODAY) -> list[DemoOrder]:
    customers = company.usable_customers()
    items = company.usable_items()
    out = []
    for n in range(count):
        order_id = first_id + n
        out.append(
            DemoOrder(
                order_id=order_id,
                order_no=f"PA-{order_id}",
                order_date=day,
                customer_id=customers[n % len(customers)]["Id"],
                lines=[
                    DemoLine(item_id=items[(n + k) % len(items)]["Id"], qty=k + 1, unit_price=2.5)
                    for k in range(2)
                ],
                modified_at=datetime.combine(day, datetime.min.time())
                + timedelta(hours=9, minutes=n),
            )
        )
    return out


@pytest.fixture
def order_stack(fresh_emulator, sqlite_odbc_db, warehouse, data_dir):
    emu = fresh_emulator()
    resources = order_resources(emu, sqlite_odbc_db, warehouse, data_dir)
    master = dg.materialize(
        [quickbooks_customers, quickbooks_items, staging_customers, staging_items],
        resources=resources,
    )
    assert master.success
    return emu, sqlite_odbc_db, resources


def _import(resources, day: date = TODAY) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [inventiv_orders, sales_orders],
        partition_key=day.isoformat(),
        resources=resources,
        raise_on_error=False,
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def _meta(result, key: list[str]) -> dict:
    [mat] = result.asset_materializations_for_node("__".join(key))
    return {k: v.value for k, v in mat.metadata.items()}


def test_orders_become_estimates_once_and_bad_ones_are_rejected(order_stack):
    emu, db, resources = order_stack
    company = emu.company
    good = _orders(company, 1000, 3)
    bad = _orders(company, 2000, 1)[0]
    bad.lines[0].item_id = "999999"  # an item QuickBooks does not know
    bad.lines[1].qty = 0
    db.insert_orders([*good, bad])

    first = _import(resources)
    meta = _meta(first, ["quickbooks", "sales_orders"])
    assert (meta["created"], meta["adopted"], meta["rejected"]) == (3, 0, 1)
    assert "PA-2000" in meta["rejects"]
    [check] = first.get_asset_check_evaluations()
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN

    estimates = {e["DocNumber"]: e for e in emu.entities("Estimate")}
    assert set(estimates) == {"PA-1000", "PA-1001", "PA-1002"}
    lines = [
        ln for ln in estimates["PA-1000"]["Line"] if ln.get("DetailType") == "SalesItemLineDetail"
    ]
    assert [ln["SalesItemLineDetail"]["Qty"] for ln in lines] == [1, 2]
    assert float(estimates["PA-1000"]["TotalAmt"]) == pytest.approx(2.5 * 1 + 2.5 * 2)

    # Re-running the day creates nothing new.
    again = _meta(_import(resources), ["quickbooks", "sales_orders"])
    assert again["created"] == 0
    assert len(emu.entities("Estimate")) == 3

    # Fixing the rejected order in PocketAdvantage is enough: the next run creates it.
    good_item = company.usable_items()[0]["Id"]
    db.set_line(2000, 1, ITEM_ID=good_item)
    db.set_line(2000, 2, QTY=1)
    fixed = _meta(_import(resources), ["quickbooks", "sales_orders"])
    assert (fixed["created"], fixed["rejected"]) == (1, 0)
    assert sorted(e["DocNumber"] for e in emu.entities("Estimate")) == [
        "PA-1000",
        "PA-1001",
        "PA-1002",
        "PA-2000",
    ]
    with duckdb.connect(str(resources["warehouse"].database_path), read_only=True) as con:
        statuses = dict(
            con.execute("SELECT order_no, status FROM quickbooks.sales_orders").fetchall()
        )
    assert statuses == {f"PA-{n}": "created" for n in (1000, 1001, 1002, 2000)}


def test_sales_order_entity_is_configurable(order_stack):
    emu, db, resources = order_stack
    db.insert_orders(_orders(emu.company, 3000, 2))
    resources = {**resources, "qbpa": QbpaSettings(sales_order_entity="Invoice")}
    meta = _meta(_import(resources), ["quickbooks", "sales_orders"])
    assert meta["entity"] == "Invoice" and meta["created"] == 2
    assert {"PA-3000", "PA-3001"} <= {i.get("DocNumber") for i in emu.entities("Invoice")}
    assert not [e for e in emu.entities("Estimate") if e.get("DocNumber", "").startswith("PA-30")]


# ----------------------------------------------------------------------------- sensor


def instance_with_master_data() -> dg.DagsterInstance:
    """An ephemeral instance where staging/customers and staging/items were materialized."""
    instance = dg.DagsterInstance.ephemeral()
    for key in (STAGING_CUSTOMERS, STAGING_ITEMS):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
    return instance


def _tick(resources: dict, cursor: str | None, instance: dg.DagsterInstance | None = None):
    context = dg.build_sensor_context(
        instance=instance or instance_with_master_data(), cursor=cursor, resources=resources
    )
    result = inventiv_new_orders_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _skip_message(result: dg.SensorResult) -> str:
    assert not result.run_requests
    return result.skip_reason.skip_message


def test_sensor_requests_one_run_per_day_and_moves_its_cursor(fresh_emulator, sqlite_odbc_db):
    company = fresh_emulator().company
    yesterday = TODAY - timedelta(days=1)
    sqlite_odbc_db.insert_orders(
        _orders(company, 10, 2, yesterday) + _orders(company, 20, 3, TODAY)
    )
    resources = {
        "inventiv_db": InventivDbResource(connection_string=sqlite_odbc_db.connection_string)
    }

    result = _tick(resources, None)
    assert sorted(r.partition_key for r in result.run_requests) == [
        yesterday.isoformat(),
        TODAY.isoformat(),
    ]
    keys = {r.run_key for r in result.run_requests}
    assert len(keys) == 2 and all(k.endswith("|22") for k in keys)  # high-water: last order id

    assert "No new or changed orders" in _skip_message(_tick(resources, result.cursor))

    # A changed order moves MODIFIED_AT past the cursor: one new run for its day only.
    later = datetime.combine(TODAY, datetime.min.time()) + timedelta(hours=10)
    sqlite_odbc_db.update_order(11, modified_at=later, NOTES="call before delivery")
    changed = _tick(resources, result.cursor)
    assert [r.partition_key for r in changed.run_requests] == [yesterday.isoformat()]
    assert changed.run_requests[0].run_key not in keys

    # Same cursor, same answer: the run key is deterministic.
    again = _tick(resources, result.cursor)
    assert [r.run_key for r in again.run_requests] == [r.run_key for r in changed.run_requests]


@dg.op
def _succeeds():
    return 1


@dg.op
def _fails():
    raise RuntimeError("QuickBooks was down")


def _record_run(instance: dg.DagsterInstance, run_key: str, ok: bool) -> None:
    """A finished run carrying the sensor's run key, as the daemon would have launched it."""
    job = dg.GraphDefinition(name="stand_in", node_defs=[_succeeds if ok else _fails]).to_job()
    job.execute_in_process(
        instance=instance, tags={"dagster/run_key": run_key}, raise_on_error=False
    )


def test_sensor_asks_again_for_a_day_whose_run_failed(fresh_emulator, sqlite_odbc_db):
    """The cursor moved past the orders: a failed run must not strand them."""
    sqlite_odbc_db.insert_orders(_orders(fresh_emulator().company, 40, 2))
    resources = {
        "inventiv_db": InventivDbResource(connection_string=sqlite_odbc_db.connection_string)
    }
    instance = instance_with_master_data()

    first = _tick(resources, None, instance)
    [request] = first.run_requests
    assert "No new" in _skip_message(_tick(resources, first.cursor, instance))  # still running

    _record_run(instance, request.run_key, ok=False)
    retry = _tick(resources, first.cursor, instance)
    [again] = retry.run_requests
    assert again.partition_key == request.partition_key
    assert again.run_key == f"{request.run_key}|retry1"

    _record_run(instance, again.run_key, ok=False)
    # The second retry waits (backoff): nothing is asked for right away.
    assert "No new" in _skip_message(_tick(resources, retry.cursor, instance))

    _record_run(instance, again.run_key + "-ignored", ok=True)
    _record_run(instance, again.run_key, ok=True)  # a later success of the retried run
    done = _tick(resources, retry.cursor, instance)
    assert '"pending": {}' in done.cursor


def test_sensor_skips_with_the_error_when_the_database_is_down(tmp_path):
    resources = {
        "inventiv_db": InventivDbResource(
            connection_string="Driver={No Such Driver};Database=x", password="s3cret-pw"
        )
    }
    message = _skip_message(_tick(resources, None))
    assert "Inventiv database unavailable" in message
    assert "s3cret-pw" not in message


def test_sensor_tick_then_run_creates_the_estimates(order_stack):
    """End to end: insert orders → sensor tick → the run it asks for → estimates in QuickBooks."""
    emu, db, resources = order_stack
    db.insert_orders(_orders(emu.company, 500, 4))
    result = _tick({"inventiv_db": resources["inventiv_db"]}, None)
    [request] = result.run_requests
    run = dg.materialize(
        [inventiv_orders, sales_orders],
        partition_key=request.partition_key,
        resources=resources,
        tags=request.tags,
    )
    assert run.success
    assert sorted(e["DocNumber"] for e in emu.entities("Estimate")) == [
        f"PA-{n}" for n in range(500, 504)
    ]


def test_orders_before_any_master_data_fail_with_a_clear_message(
    fresh_emulator, sqlite_odbc_db, warehouse, data_dir
):
    emu = fresh_emulator()
    sqlite_odbc_db.insert_orders(_orders(emu.company, 700, 1))
    resources = order_resources(emu, sqlite_odbc_db, warehouse, data_dir)
    result = dg.materialize(
        [inventiv_orders, sales_orders],
        partition_key=TODAY.isoformat(),
        resources=resources,
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "nightly_master_data_job" in failure.step_failure_data.error.to_string()
    assert emu.entities("Estimate") == []
