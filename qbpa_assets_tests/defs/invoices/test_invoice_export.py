"""Invoice export end to end: emulator → DuckDB → invoice.fil → a real OpenSSH sshd."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from qbpa_assets.defs.invoices.assets import invoice_fil, quickbooks_invoices, staging_invoice_lines
from qbpa_assets.defs.invoices.checks import invoice_lines_reference_known_customers_and_items
from qbpa_assets_tests.defs.flow_helpers import export_resources
from qbpa_assets_tests.defs.flow_helpers import fil_records as _records
from qbpa_assets_tests.defs.flow_helpers import metadata as _meta

pytestmark = pytest.mark.e2e

INVOICES = [quickbooks_invoices, staging_invoice_lines, invoice_fil]


def _yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).date().isoformat()


@pytest.fixture
def export(qbo_emulator, sshd_server, warehouse, data_dir):
    """Resources for one export into a folder of its own on the session's sshd."""
    return export_resources(qbo_emulator, sshd_server, warehouse, data_dir)


def test_invoice_partition_rerun_gives_a_byte_identical_file(export):
    resources, remote = export
    key = _yesterday()
    first = dg.materialize(
        [*INVOICES, invoice_lines_reference_known_customers_and_items],
        partition_key=key,
        resources=resources,
    )
    assert first.success
    content = (remote / "invoice.fil").read_bytes()
    records = _records(remote / "invoice.fil")
    assert len(records) > 1
    assert _meta(first, ["inventiv_ftp", "invoice_fil"])["dagster/row_count"] == len(records) - 1

    again = dg.materialize(INVOICES, partition_key=key, resources=resources)
    assert again.success
    assert (remote / "invoice.fil").read_bytes() == content


def test_backfill_of_a_range_writes_one_file_covering_the_range(export, qbo_emulator):
    """BackfillPolicy.single_run(): one run, one extraction, one invoice.fil for the range."""
    resources, remote = export
    today = datetime.now(UTC).date()
    first, last = today - timedelta(days=3), today - timedelta(days=1)
    job = dg.define_asset_job("range", selection=INVOICES).resolve(
        asset_graph=dg.Definitions(assets=INVOICES, resources=resources).resolve_asset_graph()
    )
    result = job.execute_in_process(
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
    )
    assert result.success
    # One materialization per day of the range, all describing the same single file.
    mats = result.asset_materializations_for_node("inventiv_ftp__invoice_fil")
    assert sorted(m.partition for m in mats) == [
        (first + timedelta(days=n)).isoformat() for n in range(3)
    ]
    paths = {m.metadata["local_path"].value for m in mats}
    assert len(paths) == 1 and f"{first.isoformat()}_{last.isoformat()}" in paths.pop()

    start = datetime.combine(first, datetime.min.time(), UTC)
    end = datetime.combine(today, datetime.min.time(), UTC)
    expected = {
        inv["Id"]
        for inv in qbo_emulator.entities("Invoice")
        if start <= datetime.fromisoformat(inv["MetaData"]["LastUpdatedTime"]) < end
    }
    records = _records(remote / "invoice.fil")
    header = records[0]
    id_column = next(i for i, name in enumerate(header) if name.startswith("INVOICE_ID"))
    assert {r[id_column] for r in records[1:]} >= expected
