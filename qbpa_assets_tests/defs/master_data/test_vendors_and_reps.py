"""Vendors and sales reps end to end: emulator → DuckDB → vendor/salesrep.fil → a real sshd.

Each rep source (Employees, Classes, a transaction custom field) runs the real assets against
the emulator and the session's OpenSSH server.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from qbpa_assets.defs.master_data.assets import (
    customer_fil,
    quickbooks_customers,
    staging_customers,
)
from qbpa_assets.defs.master_data.sales_reps import (
    quickbooks_employees,
    salesrep_fil,
    staging_sales_reps,
    unique_sales_rep_ids,
)
from qbpa_assets.defs.master_data.vendors import (
    quickbooks_vendors,
    staging_vendors,
    unique_vendor_ids,
    vendor_fil,
)
from qbpa_assets.defs.resources.warehouse import QbpaSettings
from qbpa_assets_tests.defs.flow_helpers import (
    INVOICE_ASSETS,
    export_resources,
    fil_records,
    metadata,
    run_invoice_range,
)

pytestmark = pytest.mark.e2e

VENDORS = [quickbooks_vendors, staging_vendors, vendor_fil, unique_vendor_ids]
REPS = [quickbooks_employees, staging_sales_reps, salesrep_fil, unique_sales_rep_ids]
CUSTOMERS = [quickbooks_customers, staging_customers, customer_fil]
INVOICES = INVOICE_ASSETS
DAYS = 6


@pytest.fixture
def export(qbo_emulator, sshd_server, warehouse, data_dir):
    """Resources for one export into a folder of its own on the session's sshd."""
    return export_resources(qbo_emulator, sshd_server, warehouse, data_dir)


def _by_id(records: list[list[str]], id_column: str) -> dict[str, dict[str, str]]:
    header, *rows = records
    assert {len(r) for r in rows} <= {len(header)}
    return {r[header.index(id_column)]: dict(zip(header, r, strict=True)) for r in rows}


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        f"{c.asset_key.path[-1]}:{c.check_name}": c.passed
        for c in result.get_asset_check_evaluations()
    }


def test_vendor_fil_holds_every_vendor_active_and_inactive(export, qbo_emulator):
    resources, remote = export
    result = dg.materialize(VENDORS, resources=resources)
    assert result.success

    expected = {v["Id"]: v for v in qbo_emulator.entities("Vendor")}
    assert any(v.get("Active") is False for v in expected.values())  # inactive ones included
    rows = _by_id(fil_records(remote / "vendor.fil"), "VENDOR_ID")
    assert set(rows) == set(expected)
    for vid, vendor in expected.items():
        assert rows[vid]["VENDOR_NAME"] == vendor["DisplayName"].strip()
        assert rows[vid]["ACTIVE"] == ("Y" if vendor.get("Active", True) else "N")
        assert rows[vid]["VENDOR_1099"] == ("Y" if vendor.get("Vendor1099") else "N")
    meta = metadata(result, ["inventiv_ftp", "vendor_fil"])
    assert meta["remote_path"].endswith("latestACME1/vendor.fil")
    assert meta["sha256"] == hashlib.sha256((remote / "vendor.fil").read_bytes()).hexdigest()
    assert Path(meta["local_path"]).read_bytes() == (remote / "vendor.fil").read_bytes()
    raw_meta = metadata(result, ["quickbooks", "vendors"])
    assert raw_meta["dagster/row_count"] == len(expected)
    assert raw_meta["inactive_rows"] == sum(not v.get("Active", True) for v in expected.values())
    assert _checks(result) == {
        "vendor_fil:same_field_count_on_every_row": True,
        "vendor_fil:rows_written_equal_rows_staged": True,
        "vendors:unique_vendor_ids": True,
    }


def test_employee_source_exports_one_rep_per_employee(export, qbo_emulator):
    resources, remote = export
    result = dg.materialize(REPS, resources=resources)  # QBPA_SALES_REP_SOURCE unset: employee
    assert result.success

    employees = {e["Id"]: e for e in qbo_emulator.entities("Employee")}
    rows = _by_id(fil_records(remote / "salesrep.fil"), "SALESREP_ID")
    assert set(rows) == set(employees)
    for eid, emp in employees.items():
        assert rows[eid]["SALESREP_NAME"] == emp["DisplayName"]
        assert rows[eid]["EMAIL"] == (emp.get("PrimaryEmailAddr") or {}).get("Address", "")
        assert rows[eid]["ACTIVE"] == ("Y" if emp.get("Active", True) else "N")
        if emp.get("EmployeeNumber"):
            assert rows[eid]["SALESREP_CODE"] == emp["EmployeeNumber"]
    assert "N" in {r["ACTIVE"] for r in rows.values()}  # inactive employees are exported too
    raw_meta = metadata(result, ["quickbooks", "employees"])
    assert (raw_meta["entity"], raw_meta["rep_source"]) == ("Employee", "employee")
    assert metadata(result, ["staging", "sales_reps"])["rep_source"] == "employee"
    assert all(_checks(result).values()) and len(_checks(result)) == 3


def test_bad_rep_source_fails_the_run_naming_the_variable(export):
    resources, remote = export
    resources = {**resources, "qbpa": QbpaSettings(sales_rep_source="crm")}
    result = dg.materialize(REPS, resources=resources, raise_on_error=False)
    assert not result.success
    assert "QBPA_SALES_REP_SOURCE" in str(result.all_events)
    assert not (remote / "salesrep.fil").exists()


def _with_source(resources: dict, setting: str) -> dict:
    return {**resources, "qbpa": QbpaSettings(sales_rep_source=setting)}


def _land_invoices(resources: dict, qbo_emulator) -> list[dict]:
    """One run over the last DAYS days (yesterday the newest): the invoices it landed."""
    today = datetime.now(UTC).date()
    first, last = today - timedelta(days=DAYS), today - timedelta(days=1)
    result = run_invoice_range(resources, first, last)
    assert result.success
    start = datetime.combine(first, datetime.min.time(), UTC)
    end = datetime.combine(today, datetime.min.time(), UTC)
    return [
        inv
        for inv in qbo_emulator.entities("Invoice")
        if start <= datetime.fromisoformat(inv["MetaData"]["LastUpdatedTime"]) < end
    ]


def _invoice_reps(remote: Path) -> dict[str, str]:
    header, *rows = fil_records(remote / "invoice.fil")
    return {r[header.index("INVOICE_ID")]: r[header.index("SALESREP_ID")] for r in rows}


def _assert_invoice_reps(in_file: dict[str, str], invoices: list[dict], rep_of) -> None:
    """Each landed invoice's lines carry its rep (deleted invoices' rows carry none)."""
    assert {inv["Id"]: in_file.get(inv["Id"]) for inv in invoices} == {
        inv["Id"]: rep_of(inv) for inv in invoices
    }
    assert any(in_file.values())


def _customer_reps(remote: Path) -> dict[str, str]:
    return {
        k: v["SALESREP_ID"]
        for k, v in _by_id(fil_records(remote / "customer.fil"), "CUSTOMER_ID").items()
    }


def _assert_usual_reps(customer_reps: dict[str, str], invoices: list[dict], rep_of) -> None:
    """Each customer's SALESREP_ID is the rep on most of its landed invoices."""
    seen: dict[str, Counter] = {}
    for inv in invoices:
        if rep := rep_of(inv):
            seen.setdefault(inv["CustomerRef"]["value"], Counter())[rep] += 1
    assert seen  # the sample company's invoices carry reps
    for cid, rep in customer_reps.items():
        counts = seen.get(cid)
        if not counts:
            assert rep == "", cid
        else:
            assert counts[rep] == max(counts.values()), (cid, rep, counts)


def _field_rep(inv: dict) -> str:
    return next(
        (f["StringValue"] for f in inv.get("CustomField") or [] if f["Name"] == "Sales Rep"), ""
    )


def test_custom_field_source_reps_are_the_values_on_invoices(export, qbo_emulator):
    resources, remote = export
    resources = _with_source(resources, "custom_field:Sales Rep")
    invoices = _land_invoices(resources, qbo_emulator)
    result = dg.materialize([*REPS, *CUSTOMERS], resources=resources)
    assert result.success

    values = {_field_rep(inv) for inv in invoices} - {""}
    reps = _by_id(fil_records(remote / "salesrep.fil"), "SALESREP_ID")
    assert set(reps) == values and values
    employees = qbo_emulator.entities("Employee")
    by_initials = Counter(
        "".join(w[0] for w in e["DisplayName"].split()).upper() for e in employees
    )
    for value, row in reps.items():
        assert row["SALESREP_CODE"] == value
        if by_initials[value] == 1:  # the employee whose initials these are
            [emp] = [
                e for e in employees if "".join(w[0] for w in e["DisplayName"].split()) == value
            ]
            assert (row["SALESREP_NAME"], row["EMAIL"]) == (
                emp["DisplayName"],
                emp["PrimaryEmailAddr"]["Address"],
            )
            assert row["ACTIVE"] == ("Y" if emp.get("Active", True) else "N")
    assert metadata(result, ["quickbooks", "employees"])["entity"] == "Employee"
    # The rep of each invoice in invoice.fil; the customer's usual rep in customer.fil.
    _assert_invoice_reps(_invoice_reps(remote), invoices, _field_rep)
    _assert_usual_reps(_customer_reps(remote), invoices, _field_rep)


def _class_rep(inv: dict) -> str:
    return (inv.get("ClassRef") or {}).get("value", "")


def test_class_source_reps_are_the_classes(export, qbo_emulator):
    resources, remote = export
    resources = _with_source(resources, "class")
    result = dg.materialize(REPS, resources=resources)
    assert result.success
    classes = {c["Id"]: c for c in qbo_emulator.entities("Class")}
    assert any(not c.get("Active", True) for c in classes.values())
    reps = _by_id(fil_records(remote / "salesrep.fil"), "SALESREP_ID")
    assert set(reps) == set(classes)  # active and inactive
    for cid, cls in classes.items():
        assert reps[cid]["SALESREP_NAME"] == cls["Name"]
        assert reps[cid]["SALESREP_CODE"] == "".join(w[0] for w in cls["Name"].split()).upper()
        assert reps[cid]["ACTIVE"] == ("Y" if cls.get("Active", True) else "N")
    assert metadata(result, ["quickbooks", "employees"])["entity"] == "Class"

    invoices = _land_invoices(resources, qbo_emulator)
    assert dg.materialize(CUSTOMERS, resources=resources).success
    _assert_invoice_reps(_invoice_reps(remote), invoices, _class_rep)
    _assert_usual_reps(_customer_reps(remote), invoices, _class_rep)


def test_employee_source_leaves_invoice_and_customer_reps_empty(export, qbo_emulator):
    resources, remote = export
    _land_invoices(resources, qbo_emulator)
    assert dg.materialize(CUSTOMERS, resources=resources).success
    assert set(_invoice_reps(remote).values()) == {""}
    assert set(_customer_reps(remote).values()) == {""}
