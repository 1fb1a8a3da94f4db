"""Invoice export end to end: emulator → DuckDB → invoice.fil → a real OpenSSH sshd."""

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from qbpa_assets.defs.invoices.checks import invoice_lines_reference_known_customers_and_items
from qbpa_assets.defs.resources.inventiv_ftp import InventivFtpResource
from qbpa_assets_tests.defs.flow_helpers import INVOICE_ASSETS, export_resources, run_invoice_range
from qbpa_assets_tests.defs.flow_helpers import fil_records as _records
from qbpa_assets_tests.defs.flow_helpers import metadata as _meta

pytestmark = pytest.mark.e2e

INVOICES = INVOICE_ASSETS


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
    result = run_invoice_range(resources, first, last)
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


# ------------------------------------------------------------------ no night is missed


def _days_ago(n: int) -> date:
    return datetime.now(UTC).date() - timedelta(days=n)


def _midnight(d: date) -> datetime:
    return datetime.combine(d, datetime.min.time(), UTC)


def _updated_in(qbo_emulator, start: date, end: date) -> set[str]:
    """Ids of the emulator's invoices last updated in ``[start, end)``."""
    lo, hi = _midnight(start), _midnight(end)
    return {
        inv["Id"]
        for inv in qbo_emulator.entities("Invoice")
        if lo <= datetime.fromisoformat(inv["MetaData"]["LastUpdatedTime"]) < hi
    }


def _invoice_ids(path) -> set[str]:
    records = _records(path)
    column = next(i for i, name in enumerate(records[0]) if name.startswith("INVOICE_ID"))
    return {r[column] for r in records[1:]}


def _with_ftp(resources: dict, **changes) -> dict:
    ftp = resources["inventiv_ftp"]
    fields = {
        "url": ftp.url,
        "key_file": ftp.key_file,
        "known_hosts": ftp.known_hosts,
        "account_id": ftp.account_id,
        "history_dir": ftp.history_dir,
        **changes,
    }
    return {**resources, "inventiv_ftp": InventivFtpResource(**fields)}


def test_two_failed_nights_then_one_nightly_run_delivers_all_three_days(
    export, qbo_emulator, warehouse, tmp_path
):
    """Nights of d1 and d2 fail at the FTP; the night of d3 delivers d1, d2 and d3."""
    resources, remote = export
    resources = _with_ftp(resources, history_dir="history")
    d0, d1, d2, d3 = (_days_ago(n) for n in (4, 3, 2, 1))
    assert dg.materialize(INVOICES, partition_key=d0.isoformat(), resources=resources).success

    empty = tmp_path / "known_hosts"
    empty.write_text("")
    ftp_down = _with_ftp(resources, known_hosts=str(empty))  # the host key is refused
    for night in (d1, d2):
        failed = dg.materialize(
            INVOICES, partition_key=night.isoformat(), resources=ftp_down, raise_on_error=False
        )
        assert not failed.success

    third = dg.materialize(INVOICES, partition_key=d3.isoformat(), resources=resources)
    assert third.success
    meta = _meta(third, ["inventiv_ftp", "invoice_fil"])
    assert meta["caught_up_from"] == _midnight(d1).isoformat()
    raw_meta = _meta(third, ["quickbooks", "invoices"])
    assert raw_meta["window_start"] == _midnight(d1).isoformat()
    expected = _updated_in(qbo_emulator, d1, _days_ago(0))
    assert expected, "the sample company has no invoice in the last three days"
    assert _invoice_ids(remote / "invoice.fil") >= expected

    # Both deliveries are recorded, each with a dated copy here and on the FTP.
    with warehouse.get_connection() as con:
        rows = con.execute(
            "SELECT window_start, window_end, sha256, history_path, remote_history_path "
            "FROM inventiv_ftp.deliveries WHERE asset = 'inventiv_ftp/invoice_fil' "
            "ORDER BY delivered_at"
        ).fetchall()
    assert len(rows) == 2
    assert rows[1][1] == _midnight(_days_ago(0))
    content = (remote / "invoice.fil").read_bytes()
    assert rows[1][2] == hashlib.sha256(content).hexdigest()
    assert Path(rows[1][3]).read_bytes() == content
    # The sshd serves the real file system: the remote path is a local path here.
    remote_copy = Path(rows[1][4])
    assert remote_copy.parent.parent == remote.parent / "history"
    assert remote_copy.name == Path(rows[1][3]).name and remote_copy.read_bytes() == content


def test_cli_per_day_backfill_leaves_a_complete_file(export, qbo_emulator, warehouse):
    """``dagster job backfill --partitions d1,d2,d3`` makes three runs: the last file has all."""
    resources, remote = export
    days = [_days_ago(n) for n in (3, 2, 1)]
    for d in days:  # one run per partition, in the order the CLI launches them
        assert dg.materialize(INVOICES, partition_key=d.isoformat(), resources=resources).success
    expected = _updated_in(qbo_emulator, days[0], _days_ago(0))
    assert expected
    assert _invoice_ids(remote / "invoice.fil") >= expected
    history = sorted((warehouse.exports_dir / "history").rglob("*_invoice.fil"))
    assert len(history) == 3  # every delivered file kept, dated
    assert history[-1].read_bytes() == (remote / "invoice.fil").read_bytes()
