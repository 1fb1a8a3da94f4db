"""Staging SQL over raw QBO JSON: flattening, line expansion, window replacement."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import duckdb
import pytest

from qbpa_assets.lib import staging

DAY1 = datetime(2024, 3, 1, tzinfo=timezone.utc)
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


def test_invoice_lines_sales_and_group_lines(con):
    assert staging.refresh_invoice_lines(con, DAY1, DAY2) == 6
    lines = _rows(
        con,
        "SELECT * FROM staging.invoice_lines WHERE invoice_id = '100' "
        "ORDER BY line_pos, group_pos NULLS FIRST",
    )
    # Sales line + two lines of the group; description-only, subtotal, discount are not rows.
    assert [(r["line_id"], r["item_id"], r["group_item_id"]) for r in lines] == [
        ("1", "5", None),
        ("4", "11", "12"),
        ("5", "13", "12"),
    ]
    first, grouped = lines[0], lines[1]
    assert first["qty_text"] == "1" and first["unit_price_text"] == "275"
    assert first["amount_text"] == "275.0" and first["amount"] == 275.0
    assert first["description"] == "Rock\tFountain"  # cleaning happens in the writer
    assert grouped["group_line_id"] == "3" and grouped["group_qty"] == 2.0
    assert grouped["unit_price_text"] == "150.0" and grouped["group_pos"] == 1
    for r in lines:
        assert r["doc_number"] == "10100" and r["customer_id"] == "1"
        assert r["discount_amount"] == pytest.approx(212.93)
        assert r["subtotal_amount"] == 575.0 and r["total_amt_text"] == "362.07"
        assert str(r["txn_date"]) == "2024-02-28" and r["ship_city"] == "Port"
        assert r["invoice_last_updated"] == DAY1 + timedelta(hours=10)


def test_invoice_window_boundaries_and_rerun(con):
    assert staging.refresh_invoice_lines(con, DAY1, DAY2) == 6
    assert staging.refresh_invoice_lines(con, DAY2, DAY3) == 3
    before = _rows(con, "SELECT * FROM staging.invoice_lines ORDER BY ALL")
    # Re-running a window is idempotent...
    assert staging.refresh_invoice_lines(con, DAY1, DAY2) == 6
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
    assert staging.refresh_invoice_lines(con, DAY1, DAY2) == 1
    day1 = _rows(
        con,
        "SELECT invoice_id, doc_number FROM staging.invoice_lines WHERE invoice_last_updated < $d",
        {"d": DAY2},
    )
    assert day1 == [{"invoice_id": "100", "doc_number": "NEW-100"}]
    day2 = _rows(
        con,
        "SELECT * FROM staging.invoice_lines WHERE invoice_last_updated >= $d ORDER BY ALL",
        {"d": DAY2},
    )
    assert day2 == [r for r in before if r["invoice_last_updated"] >= DAY2]


def test_invoice_window_naive_datetimes_are_utc(con):
    naive = DAY1.replace(tzinfo=None)
    assert staging.refresh_invoice_lines(con, naive, naive + timedelta(days=1)) == 6


def test_invoice_lines_empty_window_creates_table(con):
    later = DAY3 + timedelta(days=10)
    assert staging.refresh_invoice_lines(con, later, later + timedelta(days=1)) == 0
    cols = [r[0] for r in con.execute("DESCRIBE staging.invoice_lines").fetchall()]
    assert {"invoice_id", "item_id", "qty", "unit_price", "invoice_last_updated"} <= set(cols)
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
    assert staging.refresh_customers(c) == len(company.customers)
    assert staging.refresh_items(c) == len(company.items)
    far = datetime(1990, 1, 1, tzinfo=timezone.utc)
    lines = staging.refresh_invoice_lines(c, far, datetime(2100, 1, 1, tzinfo=timezone.utc))
    with_lines = c.execute(
        "SELECT count(DISTINCT invoice_id) FROM staging.invoice_lines"
    ).fetchone()[0]
    assert lines >= len(company.invoices) and with_lines == len(company.invoices)
    assert (
        c.execute(
            "SELECT count(*) FROM staging.invoice_lines WHERE item_id IS NULL OR amount IS NULL"
        ).fetchone()[0]
        == 0
    )
