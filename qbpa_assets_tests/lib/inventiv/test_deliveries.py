"""The record of delivered files (DuckDB) and their dated local copies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from qbpa_assets.lib.inventiv import deliveries

AT = datetime(2026, 3, 5, 2, 30, 7, tzinfo=UTC)
DAY = (datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC))


def test_record_and_read_back():
    con = duckdb.connect()
    assert deliveries.delivered_until(con, "inventiv_ftp/invoice_fil") is None
    first = deliveries.Delivery(
        "inventiv_ftp/invoice_fil", "invoice.fil", AT, (DAY,), rows=3, sha256="ab", run_id="r1"
    )
    later = deliveries.Delivery(
        "inventiv_ftp/invoice_fil",
        "invoice.fil",
        AT + timedelta(days=1),
        ((DAY[0] - timedelta(days=9), DAY[0] - timedelta(days=8)),),
    )
    deliveries.record(con, first)
    deliveries.record(con, later)
    deliveries.record(con, deliveries.Delivery("inventiv_ftp/item_fil", "item.fil", AT))
    # The newest window ever delivered, not the window of the newest delivery.
    assert deliveries.delivered_until(con, "inventiv_ftp/invoice_fil") == DAY[1]
    assert deliveries.deliveries(con, "inventiv_ftp/invoice_fil") == [first, later]
    assert deliveries.deliveries(con, "inventiv_ftp/invoice_fil", since=AT + timedelta(1)) == [
        later
    ]
    [item] = deliveries.deliveries(con, "inventiv_ftp/item_fil")
    assert item.window is None and item.intervals == ()


def test_dated_copy(tmp_path):
    src = tmp_path / "invoice.fil"
    src.write_bytes(b"A\tB\r\n1\t2\r\n")
    copy = deliveries.keep_copy(src, tmp_path / "history", "invoice.fil", AT)
    assert copy == tmp_path / "history" / "2026-03-05" / "023007.000000Z_invoice.fil"
    assert copy.read_bytes() == src.read_bytes()


def test_two_deliveries_in_one_second_keep_two_copies(tmp_path):
    # Three per-day backfill runs can deliver invoice.fil within one second: no copy is lost.
    src = tmp_path / "invoice.fil"
    copies = []
    for n in range(2):
        src.write_bytes(f"file {n}\r\n".encode())
        at = AT + timedelta(microseconds=1000 * n)
        copies.append(deliveries.keep_copy(src, tmp_path / "history", "invoice.fil", at))
    assert copies[0] != copies[1]
    assert [c.read_bytes() for c in copies] == [b"file 0\r\n", b"file 1\r\n"]
    assert copies[0].relative_to(tmp_path / "history").as_posix() == (
        "2026-03-05/023007.000000Z_invoice.fil"
    )
