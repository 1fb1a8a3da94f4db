"""``staging.invoice_lines.line_no`` and the column types the .fil writer relies on.

LINE_NO used to be a ``row_number()`` window in every invoice.fil ``COPY`` (~2 s per million
lines); it is now known when the lines are unnested. It must number rows exactly as that window
did: the kept lines of an invoice (sales, each sales line of a group, discounts) in line/group
order, skipping description-only and subtotal lines; none for a deleted invoice.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from qbpa_assets.lib.invoices import staging
from qbpa_assets_tests.fixtures.qbo_rows import (
    DAY1,
    DAY2,
    DAY3,
    build_raw,
    load_raw,
    make_invoice,
    status_invoices,
)

# What invoice.fil computed before, per row of a window.
WINDOW_LINE_NO = """
SELECT invoice_id, line_pos, group_pos, line_no,
       CASE WHEN line_type IS NOT NULL THEN row_number() OVER (
         PARTITION BY invoice_id ORDER BY line_pos, group_pos NULLS FIRST) END AS expected
FROM staging.invoice_lines
"""


def _mismatches(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    rows = con.execute(WINDOW_LINE_NO).fetchall()
    assert rows
    return [r for r in rows if r[3] != r[4]]


def _awkward_invoice() -> dict:
    """Dropped lines before and inside a group, a group of one, a group with no sales line."""
    inv = make_invoice("400", DAY1 + timedelta(hours=3))
    sales, desc, group, subtotal, discount = inv["Line"]
    inner_desc = {"Id": "9", "Description": "note", "DetailType": "DescriptionOnly"}
    group_b = copy.deepcopy(group)
    group_b["GroupLineDetail"]["Line"] = [inner_desc, group["GroupLineDetail"]["Line"][0]]
    empty_group = copy.deepcopy(group)
    empty_group["GroupLineDetail"]["Line"] = [inner_desc]
    inv["Line"] = [desc, subtotal, group_b, sales, empty_group, discount, desc, group, sales]
    return inv


def test_line_no_numbers_rows_as_the_window_did():
    c = duckdb.connect()
    build_raw(c, [*status_invoices(), _awkward_invoice(), make_invoice("401", DAY1)])
    staging.refresh_invoice_lines(c, DAY1, DAY2)
    assert _mismatches(c) == []
    got = c.execute(
        "SELECT line_no, line_type, line_pos, group_pos FROM staging.invoice_lines "
        "WHERE invoice_id = '400' ORDER BY line_no"
    ).fetchall()
    assert got == [
        (1, "SalesItem", 3, 2),  # the group's sales line after its description-only line
        (2, "SalesItem", 4, None),
        (3, "Discount", 6, None),  # the empty group yields no row
        (4, "SalesItem", 8, 1),
        (5, "SalesItem", 8, 2),
        (6, "SalesItem", 9, None),
    ]
    tombstones = c.execute(
        "SELECT line_no FROM staging.invoice_lines WHERE status = 'Deleted'"
    ).fetchall()
    assert tombstones == [(None,), (None,)]


def test_line_no_of_the_generated_company():
    company_mod = pytest.importorskip("qbpa_assets.sandbox.company")
    company = company_mod.generate_company(customers=20, items=15, invoices=60, days=3, seed=5)
    c = duckdb.connect()
    load_raw(c, "invoices", copy.deepcopy(company.invoices))
    load_raw(c, "invoices", copy.deepcopy(company.deleted_invoices))
    far = datetime(1990, 1, 1, tzinfo=UTC)
    staging.refresh_invoice_lines(c, far, datetime(2100, 1, 1, tzinfo=UTC))
    assert _mismatches(c) == []


def test_a_table_staged_before_line_no_gets_it_filled():
    c = duckdb.connect()
    build_raw(c)
    staging.refresh_invoice_lines(c, DAY1, DAY2)
    before = c.execute("SELECT invoice_id, line_no FROM staging.invoice_lines ORDER BY ALL")
    before = before.fetchall()
    c.execute(f"ALTER TABLE {staging.STORED_TABLE} DROP COLUMN line_no")
    staging.refresh_invoice_lines(c, DAY2, DAY3)  # another window: day 1 is not re-staged
    after = c.execute(
        "SELECT invoice_id, line_no FROM staging.invoice_lines "
        "WHERE invoice_last_updated < $d ORDER BY ALL",
        {"d": DAY2},
    ).fetchall()
    assert after == before and _mismatches(c) == []


def test_types_the_fil_writer_relies_on():
    """Numbers as sent are JSON text; line_type and status are ENUMs: neither needs cleaning."""
    c = duckdb.connect()
    build_raw(c)
    staging.refresh_invoice_lines(c, DAY1, DAY2)
    types = dict(
        c.execute(
            "SELECT column_name, column_type FROM (DESCRIBE staging.invoice_lines)"
        ).fetchall()
    )
    for name in ("qty", "unit_price", "amount", "total_amt", "balance", "discount_percent"):
        assert types[f"{name}_text"] == "JSON" and types[name] == "DOUBLE"
    assert types["line_type"].startswith("ENUM(") and types["status"].startswith("ENUM(")
    assert types["line_no"] == "INTEGER"
