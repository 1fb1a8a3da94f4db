"""An order's sales rep end to end: real ODBC database → emulator Estimates, for each rep source.

The rep is validated against ``staging/sales_reps`` (unknown or inactive → rejected with the
reason) and written into the Estimate the source's way: the custom field by its DefinitionId,
the ClassRef, or not at all for Employees.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from qbpa_assets.defs.invoices.assets import quickbooks_invoices
from qbpa_assets.defs.master_data.assets import (
    quickbooks_customers,
    quickbooks_items,
    staging_customers,
    staging_items,
)
from qbpa_assets.defs.master_data.sales_reps import quickbooks_employees, staging_sales_reps
from qbpa_assets.defs.orders.assets import inventiv_orders, sales_orders
from qbpa_assets.defs.resources.warehouse import QbpaSettings
from qbpa_assets.lib.orders import reps
from qbpa_assets.sandbox.inventiv_demo import DemoLine, DemoOrder
from qbpa_assets_tests.fixtures.stack import order_resources

pytestmark = pytest.mark.e2e

TODAY = date.today()
MASTER = [
    quickbooks_customers,
    quickbooks_items,
    staging_customers,
    staging_items,
    quickbooks_employees,
    staging_sales_reps,
]


def _order(company, order_id: int, rep_id: str | None) -> DemoOrder:
    customer = company.usable_customers()[order_id % 7]
    item = company.usable_items()[order_id % 5]
    return DemoOrder(
        order_id=order_id,
        order_no=f"PA-{order_id}",
        order_date=TODAY,
        customer_id=customer["Id"],
        rep_id=rep_id,
        lines=[DemoLine(item_id=item["Id"], qty=2, unit_price=3.5)],
        modified_at=datetime.combine(TODAY, datetime.min.time()) + timedelta(hours=9),
    )


def _stack(fresh_emulator, sqlite_odbc_db, warehouse, data_dir, setting: str):
    emu = fresh_emulator()
    resources = order_resources(emu, sqlite_odbc_db, warehouse, data_dir, sales_rep_source=setting)
    if setting.startswith("custom_field:"):
        # The reps of a custom field are the values on the landed invoices.
        today = datetime.now(UTC).date()
        job = dg.define_asset_job("invoices", selection=[quickbooks_invoices]).resolve(
            asset_graph=dg.Definitions(
                assets=[quickbooks_invoices], resources=resources
            ).resolve_asset_graph()
        )
        landed = job.execute_in_process(
            resources=resources,
            tags={
                "dagster/asset_partition_range_start": (today - timedelta(days=6)).isoformat(),
                "dagster/asset_partition_range_end": (today - timedelta(days=1)).isoformat(),
            },
        )
        assert landed.success
    assert dg.materialize(MASTER, resources=resources).success
    return emu, sqlite_odbc_db, resources


def _import(resources, instance: dg.DagsterInstance | None = None) -> dict:
    result = dg.materialize(
        [inventiv_orders, sales_orders],
        partition_key=TODAY.isoformat(),
        resources=resources,
        instance=instance,
    )
    assert result.success
    [mat] = result.asset_materializations_for_node("quickbooks__sales_orders")
    return {k: v.value for k, v in mat.metadata.items()}


def _estimates(emu) -> dict[str, dict]:
    return {e["DocNumber"]: e for e in emu.entities("Estimate")}


def test_custom_field_source_writes_the_rep_into_the_estimate(
    fresh_emulator, sqlite_odbc_db, warehouse, data_dir
):
    emu, db, resources = _stack(
        fresh_emulator, sqlite_odbc_db, warehouse, data_dir, "custom_field:Sales Rep"
    )
    seen = sorted(
        {f["StringValue"] for inv in emu.entities("Invoice") for f in inv.get("CustomField") or []}
    )
    active_value = next(v for v in seen if v in {"AR", "BO", "DP", "FH"})  # active employees
    company = emu.company
    db.insert_orders(
        [_order(company, 1, active_value), _order(company, 2, "ZZ"), _order(company, 3, None)]
    )
    meta = _import(resources)
    assert (meta["created"], meta["rejected"]) == (2, 1)
    assert (
        "sales rep ZZ is not a value of the QuickBooks custom field 'Sales Rep'" in meta["rejects"]
    )

    estimates = _estimates(emu)
    assert set(estimates) == {"PA-1", "PA-3"}
    [field] = estimates["PA-1"]["CustomField"]
    # Found by name in Preferences: the sample company's "Sales Rep" is DefinitionId 1.
    assert (field["DefinitionId"], field["Name"], field["StringValue"]) == (
        "1",
        "Sales Rep",
        active_value,
    )
    assert not estimates["PA-3"].get("CustomField")  # no rep: nothing written


def test_custom_field_the_company_does_not_define_fails_the_run_naming_the_variable(
    fresh_emulator, sqlite_odbc_db, warehouse, data_dir
):
    emu, db, resources = _stack(fresh_emulator, sqlite_odbc_db, warehouse, data_dir, "employee")
    resources = {**resources, "qbpa": QbpaSettings(sales_rep_source="custom_field:Rep Code")}
    db.insert_orders([_order(emu.company, 1, "50")])
    result = dg.materialize(
        [inventiv_orders, sales_orders],
        partition_key=TODAY.isoformat(),
        resources=resources,
        raise_on_error=False,
    )
    assert not result.success
    failure = str(result.all_events)
    assert "QBPA_SALES_REP_SOURCE=custom_field:Rep Code" in failure and "sales rep" in failure
    assert emu.entities("Estimate") == []  # nothing was sent


def test_class_source_writes_the_class_and_rejects_an_inactive_one(
    fresh_emulator, sqlite_odbc_db, warehouse, data_dir
):
    emu, db, resources = _stack(fresh_emulator, sqlite_odbc_db, warehouse, data_dir, "class")
    classes = emu.entities("Class")
    active = next(c for c in classes if c.get("Active", True))
    inactive = next(c for c in classes if not c.get("Active", True))
    company = emu.company
    db.insert_orders([_order(company, 1, active["Id"]), _order(company, 2, inactive["Id"])])
    meta = _import(resources)
    assert (meta["created"], meta["rejected"]) == (1, 1)
    reason = f"sales rep {inactive['Id']} ({inactive['Name']}) is inactive in QuickBooks"
    assert reason in meta["rejects"]
    estimates = _estimates(emu)
    assert set(estimates) == {"PA-1"}
    assert estimates["PA-1"]["ClassRef"]["value"] == active["Id"]


def test_employee_source_validates_the_rep_and_says_once_why_it_is_not_written(
    fresh_emulator, sqlite_odbc_db, warehouse, data_dir
):
    emu, db, resources = _stack(fresh_emulator, sqlite_odbc_db, warehouse, data_dir, "employee")
    employees = emu.entities("Employee")
    active = [e["Id"] for e in employees if e.get("Active", True)]
    inactive = next(e for e in employees if not e.get("Active", True))
    company = emu.company
    db.insert_orders(
        [
            _order(company, 1, active[0]),
            _order(company, 2, active[1]),
            _order(company, 3, inactive["Id"]),
            _order(company, 4, "R9"),
        ]
    )
    with dg.DagsterInstance.ephemeral() as instance:
        meta = _import(resources, instance)
        said = [e.user_message for e in instance.all_logs(instance.get_runs()[0].run_id)]
    assert (meta["created"], meta["rejected"]) == (2, 2)
    assert f"({inactive['DisplayName']}) is inactive in QuickBooks" in meta["rejects"]
    assert "sales rep R9 is not a QuickBooks employee" in meta["rejects"]
    estimates = _estimates(emu)
    assert set(estimates) == {"PA-1", "PA-2"}
    assert not any(e.get("CustomField") or e.get("ClassRef") for e in estimates.values())
    assert said.count(reps.EMPLOYEE_NOT_WRITTEN) == 1


def test_an_edited_rep_reaches_the_estimate_and_an_unknown_one_is_refused(
    fresh_emulator, sqlite_odbc_db, warehouse, data_dir
):
    emu, db, resources = _stack(fresh_emulator, sqlite_odbc_db, warehouse, data_dir, "class")
    active = [c for c in emu.entities("Class") if c.get("Active", True)]
    company = emu.company
    db.insert_orders([_order(company, 1, active[0]["Id"]), _order(company, 2, active[0]["Id"])])
    assert _import(resources)["created"] == 2

    db.update_order(1, REP_ID=active[1]["Id"])  # the rep changed in PocketAdvantage
    db.update_order(2, REP_ID="R9")  # … and to a rep QuickBooks does not know
    edited = _import(resources)["edited_orders"]
    assert "| 1 | updated |" in edited
    assert "| 2 | invalid |" in edited and "not applied: sales rep R9" in edited
    estimates = _estimates(emu)
    assert estimates["PA-1"]["ClassRef"]["value"] == active[1]["Id"]
    assert estimates["PA-2"]["ClassRef"]["value"] == active[0]["Id"]  # left as it was
