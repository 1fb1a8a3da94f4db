"""Order copy, validation, mapping and ledger: real ODBC databases, real DuckDB, no QuickBooks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from importlib import resources

import duckdb
import pytest

from qbpa_assets.lib.inventiv.db import InventivDb
from qbpa_assets.lib.orders.batches import batch_request_id
from qbpa_assets.lib.orders.copy import copy_orders
from qbpa_assets.lib.orders.ledger import LedgerRow, ensure_ledger, read_ledger, write_ledger
from qbpa_assets.lib.orders.mapping import OrderMappingError, load_order_mapping, validate_mapping
from qbpa_assets.lib.orders.payloads import build_payloads
from qbpa_assets.lib.orders.report import rejects_markdown
from qbpa_assets.lib.orders.results import ImportResult
from qbpa_assets.lib.orders.validate import validate_orders
from qbpa_assets.sandbox.company import generate_company
from qbpa_assets.sandbox.inventiv_demo import (
    INVALID_KINDS,
    DemoLine,
    DemoOrder,
    create_demo_db,
)
from qbpa_assets_tests.fixtures.odbc import stage_company

D = date(2026, 11, 20)
T0 = datetime(2026, 11, 20, 9, 30)


@pytest.fixture(scope="module")
def company():
    return generate_company(customers=40, items=25, invoices=5, days=3, seed=1, end_date=D)


@pytest.fixture
def con(company):
    connection = duckdb.connect()
    stage_company(connection, company)
    yield connection
    connection.close()


def _ids(con, company):
    """Usable customers/items, plus one of each made inactive in staging."""
    customers = [c["Id"] for c in company.usable_customers()]
    items = [i["Id"] for i in company.usable_items()]
    inactive_c, inactive_i = customers.pop(), items.pop()
    con.execute("UPDATE staging.customers SET active = false WHERE id = ?", [inactive_c])
    con.execute("UPDATE staging.items SET active = false WHERE id = ?", [inactive_i])
    return customers, items, inactive_c, inactive_i


def test_copy_normalizes_types_and_respects_window(inventiv_odbc, con) -> None:
    inventiv_odbc.insert_orders(
        [
            DemoOrder(
                1,
                "A-1",
                D,
                "7",
                [
                    DemoLine("3", 2, Decimal("19.99"), "Widget"),
                    DemoLine("4", Decimal("1.5"), 0, None),
                ],
                rep_id="R9",
                po_number="PO-1",
                ship_date=date(2026, 11, 22),
                notes="n",
                modified_at=T0,
            ),
            DemoOrder(2, "A-2", date(2026, 11, 21), "7", [DemoLine("3", 1, 1)], modified_at=T0),
            DemoOrder(3, "A-3", date(2026, 11, 19), "7", [DemoLine("3", 1, 1)], modified_at=T0),
        ]
    )
    with inventiv_odbc.db() as db:
        result = copy_orders(db, con, D, date(2026, 11, 21))
    assert (result.orders, result.lines) == (1, 2)
    row = con.execute(
        "SELECT order_id, order_no, order_date, customer_id, rep_id, po_number, ship_date,"
        " notes, modified_at FROM inventiv_db.orders"
    ).fetchall()
    assert row == [("1", "A-1", D, "7", "R9", "PO-1", date(2026, 11, 22), "n", T0)]
    lines = con.execute(
        "SELECT order_id, line_no, item_id, qty, unit_price, description, order_date"
        " FROM inventiv_db.order_lines ORDER BY line_no"
    ).fetchall()
    assert lines == [
        ("1", 1, "3", Decimal("2"), Decimal("19.99"), "Widget", D),
        ("1", 2, "4", Decimal("1.5"), Decimal("0"), None, D),
    ]


def test_copy_rerun_replaces_exactly_the_window(sqlite_odbc_db, con) -> None:
    sqlite_odbc_db.insert_orders(
        [
            DemoOrder(1, "A-1", D, "7", [DemoLine("3", 1, 1)], modified_at=T0),
            DemoOrder(2, "A-2", date(2026, 11, 21), "7", [DemoLine("3", 1, 1)], modified_at=T0),
        ]
    )
    with sqlite_odbc_db.db() as db:
        copy_orders(db, con, D, date(2026, 11, 22))
        sqlite_odbc_db.execute("DELETE FROM ORDER_LINES WHERE ORDER_ID = 1")
        sqlite_odbc_db.execute("DELETE FROM ORDERS WHERE ORDER_ID = 1")
        sqlite_odbc_db.update_order(2, ORDER_NO="A-2b")
        again = copy_orders(db, con, date(2026, 11, 21), date(2026, 11, 22))
        assert (again.orders, again.lines) == (1, 1)
        assert con.execute(
            "SELECT order_id, order_no FROM inventiv_db.orders ORDER BY order_id"
        ).fetchall() == [("1", "A-1"), ("2", "A-2b")]  # day 20 untouched by the day-21 run
        copy_orders(db, con, D, date(2026, 11, 21))
    assert con.execute("SELECT count(*) FROM inventiv_db.orders").fetchone() == (1,)
    assert con.execute("SELECT count(*) FROM inventiv_db.order_lines").fetchone() == (1,)


def test_validation_collects_every_reason(sqlite_odbc_db, con, company) -> None:
    customers, items, inactive_c, inactive_i = _ids(con, company)
    sqlite_odbc_db.insert_orders(
        [
            DemoOrder(1, "GOOD-1", D, customers[0], [DemoLine(items[0], 1, 5)], modified_at=T0),
            DemoOrder(
                2,
                "X" * 22,
                D,
                "999999",
                [
                    DemoLine("888888", 1, 5),
                    DemoLine(inactive_i, 0, -1),
                    DemoLine(items[0], -2, 3),
                ],
                modified_at=T0,
            ),
            DemoOrder(3, "", D, inactive_c, [], modified_at=T0),
        ]
    )
    with sqlite_odbc_db.db() as db:
        copy_orders(db, con, D, date(2026, 11, 21))
    reasons = validate_orders(con, D, date(2026, 11, 21))
    assert set(reasons) == {"2", "3"}
    two = reasons["2"]
    assert two[0].startswith("order number XXXXXXXXXXXXXXXXXXXXXX is 22 characters")
    assert two[1] == "customer 999999 does not exist in QuickBooks"
    assert "line 1: item 888888 does not exist in QuickBooks" in two
    assert any(r.startswith(f"line 2: item {inactive_i} (") and "inactive" in r for r in two)
    assert "line 2: quantity 0 must be greater than 0" in two
    assert "line 2: price -1 must not be negative" in two
    assert "line 3: quantity -2 must be greater than 0" in two
    assert len(two) == 7
    three = reasons["3"]
    assert three[0] == "order number is empty"
    assert "is inactive in QuickBooks" in three[1] and three[1].startswith(f"customer {inactive_c}")
    assert three[2] == "order has no lines"


def test_demo_db_has_each_kind_of_invalid_order(tmp_path, con, company) -> None:
    conn_str = create_demo_db(
        tmp_path / "demo.db", company, orders=12, invalid=4, days=3, end_date=D
    )
    with InventivDb(conn_str) as db:
        copied = copy_orders(db, con, date(2026, 11, 18), date(2026, 11, 21))
    assert copied.orders == 12
    reasons = validate_orders(con, date(2026, 11, 18), date(2026, 11, 21))
    assert sorted(reasons) == ["10", "11", "12", "9"]
    kinds = dict(zip(INVALID_KINDS, ["9", "10", "11", "12"], strict=True))
    assert "does not exist" in reasons[kinds["unknown_item"]][0]
    assert "inactive" in reasons[kinds["inactive_customer"]][0]
    assert "quantity 0" in reasons[kinds["zero_qty"]][0]
    assert "DocNumber allows at most 21" in reasons[kinds["long_order_no"]][0]
    assert all(len(r) == 1 for r in reasons.values())


def test_default_mapping_builds_payload(sqlite_odbc_db, con) -> None:
    sqlite_odbc_db.insert_orders(
        [
            DemoOrder(
                5,
                "PA-5",
                D,
                "7",
                [
                    DemoLine("3", 3, Decimal("2.50"), "Blue"),
                    DemoLine("4", 1, Decimal("0.333"), None),
                ],
                rep_id="R2",
                po_number="PO9",
                ship_date=date(2026, 11, 23),
                notes="back door",
                modified_at=T0,
            ),
        ]
    )
    with sqlite_odbc_db.db() as db:
        copy_orders(db, con, D, date(2026, 11, 21))
    mapping = load_order_mapping()
    validate_mapping(con, mapping)
    payload = build_payloads(con, mapping, ["5"])["5"]
    assert payload == {
        "DocNumber": "PA-5",
        "TxnDate": "2026-11-20",
        "ShipDate": "2026-11-23",
        "CustomerRef": {"value": "7"},
        "CustomerMemo": {"value": "PO PO9 / Rep R2"},
        "PrivateNote": "PocketAdvantage order 5 | Rep R2 | PO PO9 | back door",
        "Line": [
            {
                "LineNum": 1,
                "DetailType": "SalesItemLineDetail",
                "Description": "Blue",
                "Amount": 7.5,
                "SalesItemLineDetail": {"ItemRef": {"value": "3"}, "Qty": 3, "UnitPrice": 2.5},
            },
            {
                "LineNum": 2,
                "DetailType": "SalesItemLineDetail",
                "Amount": 0.33,
                "SalesItemLineDetail": {"ItemRef": {"value": "4"}, "Qty": 1, "UnitPrice": 0.333},
            },
        ],
    }


def _mapping_text() -> str:
    return (resources.files("qbpa_assets") / "mappings" / "orders.toml").read_text("utf-8")


def test_mapping_with_unknown_column_names_the_field(tmp_path, con) -> None:
    bad = tmp_path / "orders.toml"
    bad.write_text(
        _mapping_text().replace('ShipDate = "o.ship_date"', 'ShipDate = "o.shipping_day"'),
        encoding="utf-8",
    )
    mapping = load_order_mapping(bad)
    with pytest.raises(OrderMappingError) as info:
        validate_mapping(con, mapping)
    assert str(bad) in str(info.value)
    assert "[header] ShipDate" in str(info.value) and "shipping_day" in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        # The entity is set only by QBO_SALES_ORDER_ENTITY: a [target] section is refused.
        ("[header]", '[target]\nentity = "SalesOrder"\n\n[header]', "QBO_SALES_ORDER_ENTITY"),
        ("[line]", "[lines]", "unknown section"),
        ("new_orders_sql", "newer_orders_sql", "new_orders_sql is missing"),
        ('DocNumber = "o.order_no"', "DocNumber = 5", r"\[header\] DocNumber"),
    ],
)
def test_invalid_mapping_files(tmp_path, old, new, match) -> None:
    path = tmp_path / "orders.toml"
    path.write_text(_mapping_text().replace(old, new, 1), encoding="utf-8")
    with pytest.raises(OrderMappingError, match=match):
        load_order_mapping(path)


def test_source_sql_without_alias_fails_clearly(sqlite_odbc_db, con, tmp_path) -> None:
    path = tmp_path / "orders.toml"
    path.write_text(
        _mapping_text().replace("ORDER_NO AS order_no", "ORDER_NO AS ordernumber"),
        encoding="utf-8",
    )
    sqlite_odbc_db.insert_orders([DemoOrder(1, "A", D, "7", [], modified_at=T0)])
    db = InventivDb(sqlite_odbc_db.connection_string)
    with db, pytest.raises(OrderMappingError, match="order_no"):
        copy_orders(db, con, D, date(2026, 11, 21), mapping=load_order_mapping(path))


def test_batch_request_id_is_deterministic_and_short() -> None:
    a = batch_request_id("123", "Estimate", [("2", "h2"), ("10", "h10")])
    assert a == batch_request_id("123", "Estimate", [("10", "h10"), ("2", "h2")])
    assert len(a) <= 36
    assert a != batch_request_id("123", "Invoice", [("2", "h2"), ("10", "h10")])
    assert a != batch_request_id("124", "Estimate", [("2", "h2"), ("10", "h10")])
    assert a != batch_request_id("123", "Estimate", [("2", "h2"), ("10", "changed")])


def test_ledger_upsert_keeps_first_seen(con) -> None:
    ensure_ledger(con)
    row = LedgerRow(
        "1", "A-1", D, None, "Estimate", None, "rejected", ["bad | item"], None, T0, "h"
    )
    write_ledger(con, [row])
    first = con.execute("SELECT first_seen_at FROM quickbooks.sales_orders").fetchone()[0]
    row.status, row.reasons, row.qbo_id, row.doc_number = "created", [], "77", "A-1"
    write_ledger(con, [row])
    got = con.execute(
        "SELECT status, reasons, qbo_id, first_seen_at, updated_at >= first_seen_at"
        " FROM quickbooks.sales_orders"
    ).fetchall()
    assert got == [("created", [], "77", first, True)]
    assert read_ledger(con, ["1"])["1"].qbo_id == "77"


def test_rejects_markdown_escapes_cells() -> None:
    result = ImportResult(
        rejected=[
            LedgerRow(
                "1", "A|1", D, None, "Estimate", None, "rejected", ["x", "y\nz"], None, None, None
            ),
        ]
    )
    text = rejects_markdown(result)
    assert "| 1 | A\\|1 | x; y z |" in text
    assert rejects_markdown(ImportResult()) == "No rejected orders."
