"""Raw QuickBooks assets against the HTTPS emulator through the real client code."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from qbpa_assets.defs.quickbooks.assets import (
    quickbooks_customers,
    quickbooks_invoices,
    quickbooks_items,
)
from qbpa_assets_tests.fixtures.stack import quickbooks_resource


def _yesterday() -> tuple[str, datetime, datetime]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=1)
    return start.date().isoformat(), start, today


def _updated(entity: dict) -> datetime:
    return datetime.fromisoformat(entity["MetaData"]["LastUpdatedTime"])


def _metadata(result: dg.ExecuteInProcessResult, key: list[str]) -> dict:
    [mat] = result.asset_materializations_for_node("__".join(key))
    return {k: v.value for k, v in mat.metadata.items()}


def test_customers_and_items_land_active_and_inactive(qbo_emulator, warehouse, data_dir):
    resources = {"quickbooks": quickbooks_resource(qbo_emulator, data_dir), "warehouse": warehouse}
    result = dg.materialize([quickbooks_customers, quickbooks_items], resources=resources)
    assert result.success

    customers = qbo_emulator.entities("Customer")
    items = qbo_emulator.entities("Item")
    assert any(not c.get("Active", True) for c in customers), "sample company lacks inactive rows"
    with duckdb.connect(str(warehouse.database_path), read_only=True) as con:
        landed = dict(con.execute("SELECT id, active FROM quickbooks.customers").fetchall())
        assert landed == {c["Id"]: c.get("Active", True) for c in customers}
        assert con.execute("SELECT count(*) FROM quickbooks.items").fetchone()[0] == len(items)
        payload = json.loads(
            con.execute(
                "SELECT payload FROM quickbooks.customers WHERE id = ?", [customers[0]["Id"]]
            ).fetchone()[0]
        )
        assert payload["DisplayName"] == customers[0]["DisplayName"]

    meta = _metadata(result, ["quickbooks", "customers"])
    assert meta["dagster/row_count"] == len(customers)
    assert meta["inactive_rows"] == sum(1 for c in customers if not c.get("Active", True))
    assert meta["pages"] >= 1 and meta["api_calls"] >= meta["pages"]
    assert meta["latest_changes"].startswith("| id | sync_token | last_updated | active |")


def test_invoice_partition_lands_the_window_and_rerun_changes_nothing(
    qbo_emulator, warehouse, data_dir
):
    key, start, end = _yesterday()
    expected = {
        inv["Id"] for inv in qbo_emulator.entities("Invoice") if start <= _updated(inv) < end
    }
    assert expected, "the sample company has no invoice updated yesterday"
    resources = {"quickbooks": quickbooks_resource(qbo_emulator, data_dir), "warehouse": warehouse}

    first = dg.materialize([quickbooks_invoices], partition_key=key, resources=resources)
    assert first.success
    with duckdb.connect(str(warehouse.database_path), read_only=True) as con:
        snapshot = con.execute(
            "SELECT id, sync_token, last_updated, deleted, payload FROM quickbooks.invoices "
            "WHERE NOT deleted ORDER BY id"
        ).fetchall()
    assert {row[0] for row in snapshot} == expected
    meta = _metadata(first, ["quickbooks", "invoices"])
    assert meta["window_start"].startswith(start.date().isoformat())
    assert meta["deletions_checked"] is True

    again = dg.materialize([quickbooks_invoices], partition_key=key, resources=resources)
    assert again.success
    with duckdb.connect(str(warehouse.database_path), read_only=True) as con:
        assert (
            con.execute(
                "SELECT id, sync_token, last_updated, deleted, payload FROM quickbooks.invoices "
                "WHERE NOT deleted ORDER BY id"
            ).fetchall()
            == snapshot
        )


def test_deleted_invoice_becomes_a_tombstone(fresh_emulator, warehouse, data_dir):
    emu = fresh_emulator()
    key, start, end = _yesterday()
    resources = {"quickbooks": quickbooks_resource(emu, data_dir), "warehouse": warehouse}
    victim = next(i for i in emu.entities("Invoice") if start <= _updated(i) < end)
    assert dg.materialize([quickbooks_invoices], partition_key=key, resources=resources).success

    # Deleted late yesterday (the emulator's clock), so the tombstone belongs to yesterday.
    emu.set_clock(end - timedelta(minutes=5))
    try:
        emu.delete_entity("Invoice", victim["Id"])
    finally:
        emu.set_clock(None)
    assert dg.materialize([quickbooks_invoices], partition_key=key, resources=resources).success
    with duckdb.connect(str(warehouse.database_path), read_only=True) as con:
        deleted = con.execute(
            "SELECT deleted FROM quickbooks.invoices WHERE id = ?", [victim["Id"]]
        ).fetchone()
    assert deleted == (True,)


def test_missing_configuration_names_the_variable(warehouse, data_dir):
    from qbpa_assets.defs.resources.quickbooks import QuickBooksResource

    resources = {
        "quickbooks": QuickBooksResource(
            client_id="", client_secret="", realm_id="", data_dir=str(data_dir)
        ),
        "warehouse": warehouse,
    }
    result = dg.materialize([quickbooks_customers], resources=resources, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "QBO_CLIENT_ID is not set" in failure.step_failure_data.error.to_string()


@pytest.mark.slow
def test_two_overlapping_runs_on_one_duckdb_file_both_succeed(qbo_emulator, data_dir):
    """Two processes materialize into the same DuckDB file at once: one waits, none fails."""
    script = textwrap.dedent(
        """
        import sys
        import dagster as dg
        from qbpa_assets.defs.quickbooks.assets import quickbooks_customers, quickbooks_items
        from qbpa_assets.defs.resources.quickbooks import QuickBooksResource
        from qbpa_assets.defs.resources.warehouse import WarehouseResource
        (client_id, secret, realm, token, discovery, base, ca, data_dir, store) = sys.argv[1:]
        qbo = QuickBooksResource(client_id=client_id, client_secret=secret, realm_id=realm,
            refresh_token=token, environment=discovery, api_base_url=base, ca_bundle=ca,
            data_dir=store)
        result = dg.materialize([quickbooks_customers, quickbooks_items],
            resources={"quickbooks": qbo, "warehouse": WarehouseResource(data_dir=data_dir)})
        sys.exit(0 if result.success else 1)
        """
    )
    emu = qbo_emulator
    procs = []
    for n in range(2):
        store = data_dir / f"tokens{n}"
        store.mkdir()
        args = [
            emu.client_id,
            emu.client_secret,
            emu.realm_id,
            emu.issue_refresh_token(),
            emu.discovery_url,
            emu.base_url,
            emu.ca_file,
            str(data_dir),
            str(store),
        ]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", script, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n\n".join(o[-3000:] for o in outputs)
    with duckdb.connect(str(data_dir / "qbpa.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT count(*) FROM quickbooks.customers").fetchone()[0]
    assert rows == len(emu.entities("Customer"))


def test_a_window_older_than_cdc_reach_is_loaded_without_deletions(
    fresh_emulator, warehouse, data_dir
):
    """40 days back: invoices still land; CDC (30 days) is not asked, and the run says so."""
    old_day = (datetime.now(UTC) - timedelta(days=40)).date()
    emu = fresh_emulator(days=3, end_date=old_day + timedelta(days=1))
    resources = {"quickbooks": quickbooks_resource(emu, data_dir), "warehouse": warehouse}
    emu.reset_request_log()
    result = dg.materialize(
        [quickbooks_invoices], partition_key=old_day.isoformat(), resources=resources
    )
    assert result.success
    meta = _metadata(result, ["quickbooks", "invoices"])
    assert meta["deletions_checked"] is False
    assert meta["invoices_fetched"] > 0
    assert not [r for r in emu.request_log if r["op"] == "cdc"]
