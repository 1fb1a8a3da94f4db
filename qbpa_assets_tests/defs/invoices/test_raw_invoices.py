"""Raw invoice asset (daily windows, CDC tombstones) against the HTTPS emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from qbpa_assets.defs.invoices.assets import quickbooks_invoices
from qbpa_assets_tests.defs.flow_helpers import metadata as _metadata
from qbpa_assets_tests.fixtures.stack import quickbooks_resource

pytestmark = pytest.mark.e2e


def _yesterday() -> tuple[str, datetime, datetime]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=1)
    return start.date().isoformat(), start, today


def _updated(entity: dict) -> datetime:
    return datetime.fromisoformat(entity["MetaData"]["LastUpdatedTime"])


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
