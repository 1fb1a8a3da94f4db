"""Master-data export end to end: emulator → DuckDB → customer/item.fil → a real OpenSSH sshd."""

import hashlib
from pathlib import Path

import dagster as dg
import pytest

from qbpa_assets.defs.master_data.assets import (
    customer_fil,
    item_fil,
    quickbooks_customers,
    quickbooks_items,
    staging_customers,
    staging_items,
)
from qbpa_assets.defs.master_data.checks import unique_customer_ids, unique_item_ids
from qbpa_assets.defs.resources.inventiv_ftp import InventivFtpResource
from qbpa_assets.defs.resources.warehouse import QbpaSettings
from qbpa_assets_tests.defs.flow_helpers import export_resources
from qbpa_assets_tests.defs.flow_helpers import fil_records as _records
from qbpa_assets_tests.defs.flow_helpers import metadata as _meta

pytestmark = pytest.mark.e2e

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


@pytest.fixture
def export(qbo_emulator, sshd_server, warehouse, data_dir):
    """Resources for one export into a folder of its own on the session's sshd."""
    return export_resources(qbo_emulator, sshd_server, warehouse, data_dir)


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
