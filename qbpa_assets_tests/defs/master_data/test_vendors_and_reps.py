"""Vendors and sales reps end to end: emulator → DuckDB → vendor/salesrep.fil → a real sshd.

Each rep source (Employees, Classes, a transaction custom field) runs the real assets against
the emulator and the session's OpenSSH server.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import pytest

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
from qbpa_assets_tests.defs.flow_helpers import export_resources, fil_records, metadata

pytestmark = pytest.mark.e2e

VENDORS = [quickbooks_vendors, staging_vendors, vendor_fil, unique_vendor_ids]
REPS = [quickbooks_employees, staging_sales_reps, salesrep_fil, unique_sales_rep_ids]


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
