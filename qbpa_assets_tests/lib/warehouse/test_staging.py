"""Staging SQL over raw QBO JSON: flattening, line expansion, window replacement."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import duckdb
import pytest

from qbpa_assets.lib.warehouse import staging

DAY1 = datetime(2024, 3, 1, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY2 + timedelta(days=1)


def _meta(ts: datetime) -> dict[str, str]:
    # QBO sends local-offset timestamps; -08:00 crosses the UTC day boundary on purpose.
    local = ts.astimezone(timezone(timedelta(hours=-8)))
    return {"CreateTime": "2023-01-05T09:00:00-08:00", "LastUpdatedTime": local.isoformat()}


def _addr(line1: str, city: str) -> dict[str, str]:
    return {
        "Id": "9",
        "Line1": line1,
        "City": city,
        "CountrySubDivisionCode": "CA",
        "PostalCode": "94043",
        "Country": "USA",
    }


def sample_customers() -> list[dict[str, Any]]:
    """Hand-written QBO Customer objects with awkward values."""
    return [
        {
            "Id": "1",
            "SyncToken": "0",
            "DisplayName": "Amy's Bird Sanctuary",
            "GivenName": "Amy",
            "FamilyName": "Lauterbach",
            "CompanyName": "Amy's Bird Sanctuary",
            "PrimaryEmailAddr": {"Address": "Birds@Intuit.com"},
            "PrimaryPhone": {"FreeFormNumber": "(650) 555-3311"},
            "BillAddr": _addr("4581 Finch St.", "Bayshore"),
            "ShipAddr": _addr("4581 Finch St.", "Bayshore"),
            "SalesTermRef": {"value": "3", "name": "Net 30"},
            "Taxable": True,
            "Balance": 239.0,
            "BalanceWithJobs": 239.0,
            "Active": True,
            "Job": False,
            "MetaData": _meta(DAY1),
        },
        {
            "Id": "2",
            "SyncToken": "3",
            "DisplayName": 'Tab\there "quoted"\r\nnew line  ',
            "CompanyName": "Café Müller – Zürich €",
            "Notes": "x" * 5000,
            "Balance": 0,
            "Active": False,
            "MetaData": _meta(DAY1),
        },
        {
            "Id": "10",
            "SyncToken": "0",
            "DisplayName": "Amy's Bird Sanctuary:Job 1",
            "Job": True,
            "ParentRef": {"value": "1"},
            "Level": 1,
            "BillWithParent": True,
            "CompanyName": "",
            "Active": True,
            "MetaData": _meta(DAY2),
        },
    ]


def sample_items() -> list[dict[str, Any]]:
    """QBO Items of several types; numbers as QBO sends them (int and float)."""
    return [
        {
            "Id": "5",
            "SyncToken": "1",
            "Name": "Rock Fountain",
            "Sku": "RF-1",
            "Description": "Rock Fountain",
            "Type": "Inventory",
            "UnitPrice": 275,
            "PurchaseCost": 125.0,
            "QtyOnHand": 2,
            "TrackQtyOnHand": True,
            "Taxable": True,
            "Active": True,
            "IncomeAccountRef": {"value": "79", "name": "Sales"},
            "MetaData": _meta(DAY1),
        },
        {
            "Id": "11",
            "SyncToken": "0",
            "Name": "Pump",
            "Type": "NonInventory",
            "UnitPrice": 150.0,
            "Active": True,
            "MetaData": _meta(DAY1),
        },
        {
            "Id": "12",
            "SyncToken": "0",
            "Name": "Garden kit",
            "Type": "Group",
            "Active": True,
            "MetaData": _meta(DAY1),
        },
        {
            "Id": "13",
            "SyncToken": "0",
            "Name": "Design",
            "Type": "Service",
            "UnitPrice": 75,
            "Active": False,
            "MetaData": _meta(DAY1),
        },
    ]


def _sales_line(
    line_id: str, num: int, item: str, qty: Any, price: Any, amount: Any, desc: str = ""
) -> dict[str, Any]:
    return {
        "Id": line_id,
        "LineNum": num,
        "Description": desc,
        "Amount": amount,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {
            "ItemRef": {"value": item, "name": f"item {item}"},
            "UnitPrice": price,
            "Qty": qty,
            "TaxCodeRef": {"value": "TAX"},
        },
    }


def make_invoice(inv_id: str, updated: datetime, *, doc: str | None = None) -> dict[str, Any]:
    """A QBO Invoice with sales, group, description-only, subtotal and discount lines."""
    return {
        "Id": inv_id,
        "SyncToken": "0",
        "DocNumber": doc or f"10{inv_id}",
        "TxnDate": "2024-02-28",
        "DueDate": "2024-03-29",
        "CustomerRef": {"value": "1", "name": "Amy's Bird Sanctuary"},
        "SalesTermRef": {"value": "3", "name": "Net 30"},
        "TotalAmt": 362.07,
        "Balance": 362.07,
        "TxnTaxDetail": {"TotalTax": 0},
        "BillAddr": _addr("4581 Finch St.", "Bayshore"),
        "ShipAddr": _addr("1 Ship", "Port"),
        "CustomerMemo": {"value": "Thank\tyou"},
        "MetaData": _meta(updated),
        "Line": [
            _sales_line("1", 1, "5", 1, 275, 275.0, "Rock\tFountain"),
            {
                "Id": "2",
                "LineNum": 2,
                "Description": "just words",
                "DetailType": "DescriptionOnly",
                "DescriptionLineDetail": {},
            },
            {
                "Id": "3",
                "LineNum": 3,
                "Amount": 300.0,
                "DetailType": "GroupLineDetail",
                "GroupLineDetail": {
                    "GroupItemRef": {"value": "12", "name": "Garden kit"},
                    "Quantity": 2,
                    "Line": [
                        _sales_line("4", 4, "11", 2, 150.0, 300.0),
                        _sales_line("5", 5, "13", 0, 0, 0),
                    ],
                },
            },
            {"Amount": 575.0, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
            {
                "Amount": 212.93,
                "DetailType": "DiscountLineDetail",
                "DiscountLineDetail": {"PercentBased": False},
            },
        ],
    }


def build_raw(
    con: duckdb.DuckDBPyConnection,
    invoices: list[dict[str, Any]] | None = None,
) -> None:
    """Create and fill the raw tables from the hand-written sample."""
    staging.load_raw(con, "customers", sample_customers())
    staging.load_raw(con, "items", sample_items())
    if invoices is None:
        invoices = [
            make_invoice("100", DAY1 + timedelta(hours=10)),
            make_invoice("101", DAY1 + timedelta(hours=23, minutes=59)),
            make_invoice("102", DAY2 + timedelta(hours=1)),
        ]
    staging.load_raw(con, "invoices", invoices)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    build_raw(c)
    yield c
    c.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_customers_flattened(con):
    assert staging.refresh_customers(con) == 3
    rows = {r["id"]: r for r in _rows(con, "SELECT * FROM staging.customers")}
    amy = rows["1"]
    assert amy["display_name"] == "Amy's Bird Sanctuary"
    assert amy["email"] == "Birds@Intuit.com" and amy["phone"] == "(650) 555-3311"
    assert amy["bill_city"] == "Bayshore" and amy["bill_state"] == "CA"
    assert amy["sales_term_name"] == "Net 30" and amy["active"] is True
    assert amy["balance"] == 239.0 and amy["balance_text"] == "239.0"
    assert rows["2"]["active"] is False and rows["2"]["balance_text"] == "0"
    assert rows["10"]["is_job"] is True and rows["10"]["parent_id"] == "1"
    assert rows["10"]["level"] == 1
    # The contract other engineers validate orders against.
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema='staging' AND table_name='customers'"
        ).fetchall()
    )
    assert types["id"] == "VARCHAR" and types["active"] == "BOOLEAN"
    assert types["display_name"] == "VARCHAR"


def test_items_flattened_numbers_as_sent(con):
    assert staging.refresh_items(con) == 4
    rows = {r["id"]: r for r in _rows(con, "SELECT * FROM staging.items")}
    assert rows["5"]["unit_price"] == 275.0 and rows["5"]["unit_price_text"] == "275"
    assert rows["11"]["unit_price_text"] == "150.0"
    assert rows["5"]["purchase_cost_text"] == "125.0" and rows["5"]["qty_on_hand"] == 2.0
    assert rows["12"]["type"] == "Group" and rows["12"]["unit_price"] is None
    assert rows["13"]["active"] is False
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema='staging' AND table_name='items'"
        ).fetchall()
    )
    assert types["unit_price"] == "DOUBLE" and types["name"] == "VARCHAR"


def test_refresh_replaces_master_tables(con):
    staging.refresh_customers(con)
    staging.load_raw(
        con,
        "customers",
        [{"Id": "77", "DisplayName": "New", "Active": True, "MetaData": _meta(DAY3)}],
    )
    assert staging.refresh_customers(con) == 4


def test_invoice_lines_sales_group_and_discount_lines(con):
    assert staging.refresh_invoice_lines(con, DAY1, DAY2) == 8
    lines = _rows(
        con,
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


def status_invoices() -> list[dict[str, Any]]:
    """Invoices of day 1 in every status, plus a percent-based discount with its account."""
    at = DAY1 + timedelta(hours=9)
    voided = make_invoice("200", at)
    voided.update(TotalAmt=0.0, Balance=0.0, PrivateNote="Voided")
    paid = make_invoice("201", at)
    paid["Balance"] = 0
    paid["Line"][-1]["DiscountLineDetail"] = {
        "PercentBased": True,
        "DiscountPercent": 10,
        "DiscountAccountRef": {"value": "86", "name": "Discounts given"},
    }
    overdue = make_invoice("202", at)
    overdue["DueDate"] = "2024-03-01"  # before the window's end date, 2024-03-02
    due_at_end = make_invoice("203", at)
    due_at_end["DueDate"] = "2024-03-02"  # due on the end date itself: not yet overdue
    zero_not_void = make_invoice("205", at)
    zero_not_void.update(TotalAmt=0, Balance=0)  # a $0 invoice is paid, not voided
    # A bare CDC tombstone, and one whose row had the old invoice merged in (as the raw asset
    # keeps it): both become one header-only row.
    bare = {
        "Id": "204",
        "status": "Deleted",
        "domain": "QBO",
        "MetaData": {"LastUpdatedTime": (DAY1 + timedelta(hours=12)).isoformat()},
    }
    merged = make_invoice("206", DAY1 + timedelta(hours=13))
    merged["status"] = "Deleted"
    return [voided, paid, overdue, due_at_end, bare, zero_not_void, merged]


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
    assert status == {
        "200": "Voided",
        "201": "Paid",
        "202": "Overdue",
        "203": "Open",
        "204": "Deleted",
        "205": "Paid",
        "206": "Deleted",
    }
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


def test_older_table_gains_new_columns(con):
    """A warehouse staged before status/line_type existed keeps its rows and gains the columns."""
    staging.refresh_invoice_lines(con, DAY1, DAY2)
    con.execute("ALTER TABLE staging.invoice_lines DROP COLUMN status")
    con.execute("ALTER TABLE staging.invoice_lines DROP COLUMN line_type")
    assert staging.refresh_invoice_lines(con, DAY2, DAY3) == 4
    got = con.execute(
        "SELECT invoice_id, count(*), any_value(status), count(line_type) "
        "FROM staging.invoice_lines GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert got == [("100", 4, None, 0), ("101", 4, None, 0), ("102", 4, "Open", 4)]


def test_invoice_window_boundaries_and_rerun(con):
    assert staging.refresh_invoice_lines(con, DAY1, DAY2) == 8
    assert staging.refresh_invoice_lines(con, DAY2, DAY3) == 4
    before = _rows(con, "SELECT * FROM staging.invoice_lines ORDER BY ALL")
    # Re-running a window is idempotent...
    assert staging.refresh_invoice_lines(con, DAY1, DAY2) == 8
    assert _rows(con, "SELECT * FROM staging.invoice_lines ORDER BY ALL") == before
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
    staging.load_raw(con, "invoices", [changed, tombstone])
    assert staging.refresh_invoice_lines(con, DAY1, DAY2) == 2
    day1 = _rows(
        con,
        "SELECT invoice_id, doc_number, status, line_type FROM staging.invoice_lines "
        "WHERE invoice_last_updated < $d ORDER BY invoice_id",
        {"d": DAY2},
    )
    assert day1 == [
        {"invoice_id": "100", "doc_number": "NEW-100", "status": "Open", "line_type": "SalesItem"},
        {"invoice_id": "101", "doc_number": None, "status": "Deleted", "line_type": None},
    ]
    day2 = _rows(
        con,
        "SELECT * FROM staging.invoice_lines WHERE invoice_last_updated >= $d ORDER BY ALL",
        {"d": DAY2},
    )
    assert day2 == [r for r in before if r["invoice_last_updated"] >= DAY2]


def test_invoice_window_naive_datetimes_are_utc(con):
    naive = DAY1.replace(tzinfo=None)
    assert staging.refresh_invoice_lines(con, naive, naive + timedelta(days=1)) == 8


def test_invoice_lines_empty_window_creates_table(con):
    later = DAY3 + timedelta(days=10)
    assert staging.refresh_invoice_lines(con, later, later + timedelta(days=1)) == 0
    cols = [r[0] for r in con.execute("DESCRIBE staging.invoice_lines").fetchall()]
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
        staging.refresh_invoice_lines(con, DAY2, DAY1)


def test_generated_company_stages(con):
    """The sample company generator's invoices stage into at least one line each."""
    company_mod = pytest.importorskip("qbpa_assets.sandbox.company")
    company = company_mod.generate_company(customers=20, items=15, invoices=40, days=3, seed=3)
    c = duckdb.connect()
    staging.load_raw(c, "customers", company.customers)
    staging.load_raw(c, "items", company.items)
    staging.load_raw(c, "invoices", copy.deepcopy(company.invoices))
    staging.load_raw(c, "invoices", copy.deepcopy(company.deleted_invoices))
    assert staging.refresh_customers(c) == len(company.customers)
    assert staging.refresh_items(c) == len(company.items)
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
