"""Raw master-data assets (customers, items) against the HTTPS emulator, real client code."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import dagster as dg
import duckdb
import pytest

from qbpa_assets.defs.master_data.assets import quickbooks_customers, quickbooks_items
from qbpa_assets_tests.defs.flow_helpers import metadata as _metadata
from qbpa_assets_tests.fixtures.stack import quickbooks_resource

pytestmark = pytest.mark.e2e


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
        from qbpa_assets.defs.master_data.assets import quickbooks_customers, quickbooks_items
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
