"""Invoice staging SQL over raw QBO JSON: line expansion, statuses, window replacement."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone

import duckdb
import pytest

from qbpa_assets.lib.invoices import staging
from qbpa_assets.lib.master_data import staging as master_staging
from qbpa_assets_tests.fixtures.qbo_rows import (
    DAY1,
    DAY2,
    DAY3,
    STATUS_OF_STATUS_INVOICES,
    build_raw,
    load_raw,
    make_invoice,
    status_invoices,
)
from qbpa_assets_tests.fixtures.qbo_rows import rows as _rows


def test_invoice_lines_sales_group_and_discount_lines(raw_con):
    assert staging.refresh_invoice_lines(raw_con, DAY1, DAY2) == 8
    lines = _rows(
        raw_con,
        "SELECT * FROM staging.invoice_lines WHERE invoice_id = '100' "
        "ORDER BY line_pos, group_pos NULLS FIRST",
    )
    # Sales line, the two lines of the group, the discount line; description-only and subtotal
    # lines are not rows.
    assert [(r["line_type"], r["line_id"], r["item_id"], r["group_item_id"]) for r in lines] == [
        ("SalesItem", "1", "5", None),
        ("SalesItem", "4", "11", "12"),
        ("SalesItem", "5", "13", "12"),
        ("Discount", None, None, None),
    ]
    first, grouped, discount = lines[0], lines[1], lines[3]
    assert first["qty_text"] == "1" and first["unit_price_text"] == "275"
    assert first["amount_text"] == "275.0" and first["amount"] == 275.0
    assert first["description"] == "Rock\tFountain"  # cleaning happens in the writer
    assert first["discount_percent"] is None and first["discount_account_id"] is None
    assert grouped["group_line_id"] == "3" and grouped["group_qty"] == 2.0
    assert grouped["unit_price_text"] == "150.0" and grouped["group_pos"] == 1
    assert discount["amount"] == pytest.approx(212.93) and discount["amount_text"] == "212.93"
    assert discount["discount_percent_based"] is False and discount["discount_percent"] is None
    assert discount["qty"] is None and discount["line_pos"] == 5
    for r in lines:
        assert r["doc_number"] == "10100" and r["customer_id"] == "1"
        assert r["discount_amount"] == pytest.approx(212.93)
        assert r["subtotal_amount"] == 575.0 and r["total_amt_text"] == "362.07"
        assert str(r["txn_date"]) == "2024-02-28" and r["ship_city"] == "Port"
        assert r["invoice_last_updated"] == DAY1 + timedelta(hours=10)
        assert r["status"] == "Open"  # balance due 2024-03-29, window ends 2024-03-02


def test_invoice_status_and_tombstones():
    c = duckdb.connect()
    build_raw(c, status_invoices())
    assert staging.refresh_invoice_lines(c, DAY1, DAY2) == 5 * 4 + 2
    status = dict(
        c.execute(
            "SELECT invoice_id, any_value(status) FROM staging.invoice_lines GROUP BY ALL "
            "HAVING count(DISTINCT status) = 1"
        ).fetchall()
    )
    assert status == STATUS_OF_STATUS_INVOICES
    tombs = _rows(
        c, "SELECT * FROM staging.invoice_lines WHERE status = 'Deleted' ORDER BY invoice_id"
    )
    assert [t["invoice_id"] for t in tombs] == ["204", "206"]  # one row each
    line_fields = [
        "line_type",
        "line_pos",
        "group_pos",
        "line_id",
        "line_num",
        "description",
        "group_item_id",
        "item_id",
        "item_name",
        "qty",
        "unit_price",
        "amount",
        "amount_text",
        "service_date",
        "discount_percent",
        "discount_account_id",
    ]
    for tomb in tombs:
        assert {f: tomb[f] for f in line_fields} == dict.fromkeys(line_fields)
    assert tombs[0]["invoice_last_updated"] == DAY1 + timedelta(hours=12)
    assert tombs[1]["invoice_last_updated"] == DAY1 + timedelta(hours=13)
    assert tombs[0]["doc_number"] is None and tombs[1]["doc_number"] == "10206"
    [disc] = _rows(
        c,
        "SELECT * FROM staging.invoice_lines WHERE invoice_id = '201' AND line_type = 'Discount'",
    )
    assert disc["discount_percent_based"] is True and disc["discount_percent"] == 10.0
    assert disc["discount_percent_text"] == "10" and disc["discount_account_id"] == "86"
    assert disc["discount_account_name"] == "Discounts given"
    # The same day staged with a later window end sees 203 overdue too.
    assert staging.refresh_invoice_lines(c, DAY1, DAY3) == 22
    assert c.execute(
        "SELECT DISTINCT status FROM staging.invoice_lines WHERE invoice_id = '203'"
    ).fetchall() == [("Overdue",)]


def test_invoice_status_uses_the_window_end_date_in_its_time_zone():
    tz = timezone(timedelta(hours=10))  # the window end is 2024-03-02 00:00 local, 03-01 UTC
    c = duckdb.connect()
    inv = make_invoice("300", datetime(2024, 3, 1, 12, tzinfo=tz))
    inv["DueDate"] = "2024-03-01"
    build_raw(c, [inv])
    staging.refresh_invoice_lines(
        c, datetime(2024, 3, 1, tzinfo=tz), datetime(2024, 3, 2, tzinfo=tz)
    )
    assert c.execute("SELECT DISTINCT status FROM staging.invoice_lines").fetchall() == [
        ("Overdue",)
    ]


def test_older_table_gains_new_columns(raw_con):
    """A warehouse staged before status/line_type existed keeps its rows and gains the columns."""
    staging.refresh_invoice_lines(raw_con, DAY1, DAY2)
    raw_con.execute(f"ALTER TABLE {staging.STORED_TABLE} DROP COLUMN status")
    raw_con.execute(f"ALTER TABLE {staging.STORED_TABLE} DROP COLUMN line_type")
    assert staging.refresh_invoice_lines(raw_con, DAY2, DAY3) == 4
    got = raw_con.execute(
        "SELECT invoice_id, count(*), any_value(status), count(line_type) "
        "FROM staging.invoice_lines GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert got == [("100", 4, None, 0), ("101", 4, None, 0), ("102", 4, "Open", 4)]


def test_invoice_window_boundaries_and_rerun(raw_con):
    assert staging.refresh_invoice_lines(raw_con, DAY1, DAY2) == 8
    assert staging.refresh_invoice_lines(raw_con, DAY2, DAY3) == 4
    before = _rows(raw_con, "SELECT * FROM staging.invoice_lines ORDER BY ALL")
    # Re-running a window is idempotent...
    assert staging.refresh_invoice_lines(raw_con, DAY1, DAY2) == 8
    assert _rows(raw_con, "SELECT * FROM staging.invoice_lines ORDER BY ALL") == before
    # ...and replaces exactly that window: change invoice 100 in place (same day) and delete
    # 101 (tombstone, still day 1); day 2 must be untouched.
    changed = make_invoice("100", DAY1 + timedelta(hours=11), doc="NEW-100")
    changed["Line"] = changed["Line"][:1]
    tombstone = {
        "Id": "101",
        "status": "Deleted",
        "domain": "QBO",
        "MetaData": {"LastUpdatedTime": (DAY1 + timedelta(hours=12)).isoformat()},
    }
    load_raw(raw_con, "invoices", [changed, tombstone])
    assert staging.refresh_invoice_lines(raw_con, DAY1, DAY2) == 2
    day1 = _rows(
        raw_con,
        "SELECT invoice_id, doc_number, status, line_type FROM staging.invoice_lines "
        "WHERE invoice_last_updated < $d ORDER BY invoice_id",
        {"d": DAY2},
    )
    assert day1 == [
        {"invoice_id": "100", "doc_number": "NEW-100", "status": "Open", "line_type": "SalesItem"},
        {"invoice_id": "101", "doc_number": None, "status": "Deleted", "line_type": None},
    ]
    day2 = _rows(
        raw_con,
        "SELECT * FROM staging.invoice_lines WHERE invoice_last_updated >= $d ORDER BY ALL",
        {"d": DAY2},
    )
    assert day2 == [r for r in before if r["invoice_last_updated"] >= DAY2]


def test_invoice_window_naive_datetimes_are_utc(raw_con):
    naive = DAY1.replace(tzinfo=None)
    assert staging.refresh_invoice_lines(raw_con, naive, naive + timedelta(days=1)) == 8


def test_invoice_lines_empty_window_creates_table(raw_con):
    later = DAY3 + timedelta(days=10)
    assert staging.refresh_invoice_lines(raw_con, later, later + timedelta(days=1)) == 0
    cols = [r[0] for r in raw_con.execute("DESCRIBE staging.invoice_lines").fetchall()]
    assert {
        "invoice_id",
        "doc_number",
        "customer_id",
        "item_id",
        "qty",
        "unit_price",
        "invoice_last_updated",
        "status",
        "line_type",
        "discount_percent",
    } <= set(cols)
    with pytest.raises(ValueError):
        staging.refresh_invoice_lines(raw_con, DAY2, DAY1)


def test_generated_company_stages(raw_con):
    """The sample company generator's invoices stage into at least one line each."""
    company_mod = pytest.importorskip("qbpa_assets.sandbox.company")
    company = company_mod.generate_company(customers=20, items=15, invoices=40, days=3, seed=3)
    c = duckdb.connect()
    load_raw(c, "customers", company.customers)
    load_raw(c, "items", company.items)
    load_raw(c, "invoices", copy.deepcopy(company.invoices))
    load_raw(c, "invoices", copy.deepcopy(company.deleted_invoices))
    assert master_staging.refresh_customers(c) == len(company.customers)
    assert master_staging.refresh_items(c) == len(company.items)
    far = datetime(1990, 1, 1, tzinfo=UTC)
    rows = staging.refresh_invoice_lines(c, far, datetime(2100, 1, 1, tzinfo=UTC))
    by_type = dict(
        c.execute(
            "SELECT coalesce(line_type, '-'), count(DISTINCT invoice_id) "
            "FROM staging.invoice_lines GROUP BY ALL"
        ).fetchall()
    )
    # Every live invoice has sales lines; the generator forces at least one discount, one
    # voided and one deleted invoice.
    assert by_type["SalesItem"] == len(company.invoices) and by_type["Discount"] >= 1
    assert by_type["-"] == len(company.deleted_invoices) >= 1
    assert rows >= len(company.invoices) + len(company.deleted_invoices)
    bad = c.execute(
        """SELECT count(*) FROM staging.invoice_lines WHERE
             (line_type = 'SalesItem' AND (item_id IS NULL OR amount IS NULL))
          OR (line_type = 'Discount' AND (amount IS NULL OR discount_percent IS NULL
                                          OR discount_account_id IS NULL))
          OR (line_type IS NULL AND status <> 'Deleted')"""
    ).fetchone()[0]
    assert bad == 0
    statuses = {r[0] for r in c.execute("SELECT status FROM staging.invoice_lines").fetchall()}
    assert {"Voided", "Deleted", "Paid"} <= statuses and statuses <= {
        "Open",
        "Overdue",
        "Paid",
        "Voided",
        "Deleted",
    }
    voided = {inv["Id"] for inv in company.invoices if inv.get("PrivateNote") == "Voided"}
    staged_voided = c.execute(
        "SELECT DISTINCT invoice_id FROM staging.invoice_lines WHERE status = 'Voided'"
    ).fetchall()
    assert {r[0] for r in staged_voided} == voided
