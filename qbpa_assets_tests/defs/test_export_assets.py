"""Nightly export end to end: emulator → DuckDB → .fil → a real OpenSSH sshd on 127.0.0.1."""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from qbpa_assets.defs.export.assets import (
    customer_fil,
    invoice_fil,
    item_fil,
    staging_customers,
    staging_invoice_lines,
    staging_items,
)
from qbpa_assets.defs.export.checks import (
    invoice_lines_reference_known_customers_and_items,
    unique_customer_ids,
    unique_item_ids,
)
from qbpa_assets.defs.quickbooks.assets import (
    quickbooks_customers,
    quickbooks_invoices,
    quickbooks_items,
)
from qbpa_assets.defs.resources.inventiv_ftp import InventivFtpResource
from qbpa_assets.defs.resources.warehouse import QbpaSettings
from qbpa_assets_tests.fixtures.stack import quickbooks_resource

MASTER = [
    quickbooks_customers,
    quickbooks_items,
    staging_customers,
    staging_items,
    customer_fil,
    item_fil,
    unique_customer_ids,
    unique_item_ids,
]
INVOICES = [quickbooks_invoices, staging_invoice_lines, invoice_fil]


def _yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).date().isoformat()


@pytest.fixture
def export(qbo_emulator, sshd_server, warehouse, data_dir):
    """Resources for one export into a folder of its own on the session's sshd."""
    folder = f"inventiv-{uuid.uuid4().hex[:8]}"
    ftp = InventivFtpResource(
        url=sshd_server.url(folder),
        key_file=str(sshd_server.key_file),
        known_hosts=str(sshd_server.known_hosts),
        account_id="ACME1",
    )
    resources = {
        "quickbooks": quickbooks_resource(qbo_emulator, data_dir),
        "warehouse": warehouse,
        "inventiv_ftp": ftp,
        "qbpa": QbpaSettings(),
    }
    return resources, sshd_server.root / folder / "latestACME1"


def _meta(result, key: list[str]) -> dict:
    [mat] = result.asset_materializations_for_node("__".join(key))
    return {k: v.value for k, v in mat.metadata.items()}


def _records(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\r\n")
    lines = raw.decode("utf-8").split("\r\n")[:-1]
    return [line.split("\t") for line in lines]


def test_master_data_export_lands_on_sftp(export, qbo_emulator):
    resources, remote = export
    result = dg.materialize(MASTER, resources=resources)
    assert result.success

    customers = _records(remote / "customer.fil")
    header, rows = customers[0], customers[1:]
    assert "CUSTOMER_ID" in header
    assert len(rows) == len(qbo_emulator.entities("Customer"))  # active and inactive
    assert {len(r) for r in rows} == {len(header)}
    ids = {r[header.index("CUSTOMER_ID")] for r in rows}
    assert ids == {c["Id"] for c in qbo_emulator.entities("Customer")}
    assert len(_records(remote / "item.fil")) - 1 == len(qbo_emulator.entities("Item"))
    assert not [p.name for p in remote.iterdir() if p.name not in {"customer.fil", "item.fil"}]

    meta = _meta(result, ["inventiv_ftp", "customer_fil"])
    assert meta["remote_path"].endswith("latestACME1/customer.fil")
    assert meta["sha256"] == hashlib.sha256((remote / "customer.fil").read_bytes()).hexdigest()
    assert meta["dagster/row_count"] == len(rows)
    assert Path(meta["local_path"]).read_bytes() == (remote / "customer.fil").read_bytes()
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {
        "same_field_count_on_every_row": True,
        "rows_written_equal_rows_staged": True,
        "unique_customer_ids": True,
        "unique_item_ids": True,
    }


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


def test_bad_mapping_fails_before_anything_is_uploaded(export, tmp_path):
    resources, remote = export
    assert dg.materialize(MASTER, resources=resources).success
    before = (remote / "customer.fil").read_bytes()

    overrides = tmp_path / "mappings"
    overrides.mkdir()
    (overrides / "customer.fil.toml").write_text(
        'file_name = "customer.fil"\nsource = "staging.customers"\n'
        '[[columns]]\nname = "CUSTOMER_ID"\nsql = "id"\n'
        '[[columns]]\nname = "SHOE_SIZE"\nsql = "shoe_size"\n'
    )
    broken = {**resources, "qbpa": QbpaSettings(mappings_dir=str(overrides))}
    result = dg.materialize([customer_fil], resources=broken, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.to_string()
    assert "customer.fil" in message and "SHOE_SIZE" in message
    assert (remote / "customer.fil").read_bytes() == before


def test_unknown_host_key_is_refused(export, tmp_path):
    resources, remote = export
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    ftp = resources["inventiv_ftp"]
    untrusting = InventivFtpResource(
        url=ftp.url, key_file=ftp.key_file, known_hosts=str(empty), account_id="ACME1"
    )
    result = dg.materialize(
        MASTER[:3] + [customer_fil],
        resources={**resources, "inventiv_ftp": untrusting},
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.to_string()
    assert "TransferHostKeyError" in message and "refusing to connect" in message.lower()
    assert not (remote / "customer.fil").exists()


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
