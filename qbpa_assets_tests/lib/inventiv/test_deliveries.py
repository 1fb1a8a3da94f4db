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
    assert copy == tmp_path / "history" / "2026-03-05" / "023007Z_invoice.fil"
    assert copy.read_bytes() == src.read_bytes()
