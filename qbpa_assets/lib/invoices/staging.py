"""Invoice staging SQL: ``staging.invoice_lines``, one row per line of the invoices of a window.

Rows come from the raw invoices (``quickbooks.invoices``) last updated in ``[start, end)``, the
invoice header repeated on each row. ``line_type`` says what the row is:

- ``SalesItem``: a top-level ``SalesItemLineDetail`` line, or one nested inside a
  ``GroupLineDetail`` (the group is expanded; its id/item/quantity are on each of its rows);
- ``Discount``: a ``DiscountLineDetail`` line, kept as a row of its own (``amount``,
  ``discount_percent``, ``discount_percent_based``, ``discount_account_id`` / ``_name``);
- NULL: a deleted invoice (a CDC tombstone, raw ``deleted = true``) is ONE row with the
  invoice id, ``status = 'Deleted'``, ``invoice_last_updated`` = the deletion time and NULL
  line fields, so that PocketAdvantage learns of the deletion. Its header columns hold what
  the raw row still knows (the raw asset merges a tombstone into the last known invoice, so
  ``doc_number`` and ``customer_id`` usually survive; a bare tombstone leaves them NULL).

``SubTotalLineDetail`` and ``DescriptionOnly`` lines are dropped (their amounts survive in the
header columns ``subtotal_amount`` / ``discount_amount``). ``status`` is ``Deleted``,
``Voided`` (TotalAmt 0 and the memo "Voided", which is how QBO keeps a voided invoice),
``Paid`` (Balance 0), ``Overdue`` (DueDate before the window end's date) or ``Open``.
``rep_id`` is the invoice's sales rep from the configured source (its custom field's text or its
class; NULL for Employees, :mod:`qbpa_assets.lib.master_data.sales_reps`).

``line_no`` numbers an invoice's rows 1, 2, … in line order (a group's sales lines in group
order): invoice.fil's LINE_NO, known when the lines are unnested rather than computed by a window
in the file's ``COPY``. Types the ``.fil`` writer relies on to skip cleaning: the numbers as
QuickBooks sent them (``*_text``) are JSON text, ``line_type`` and ``status`` are ENUMs.

How the JSON is parsed once: :mod:`qbpa_assets.lib.warehouse.flatten`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import duckdb

from qbpa_assets.lib.master_data.rep_source import RepSource
from qbpa_assets.lib.master_data.sales_reps import TXN_REP_HEADER_SHAPE, TXN_REP_SQL
from qbpa_assets.lib.warehouse.flatten import ADDR, META, REF, V, address, number, shape
from qbpa_assets.lib.warehouse.tables import ensure_schema

logger = logging.getLogger(__name__)

# The invoice's numbers as JSON text: exactly what QuickBooks sent (``150.0`` stays ``150.0``),
# and never a raw tab or line break, so the .fil writer passes them through uncleaned.
N = "JSON"
_SALES_LINE = {
    "Id": V,
    "LineNum": "INTEGER",
    "Description": V,
    "Amount": N,
    "DetailType": V,
    "SalesItemLineDetail": {
        "ItemRef": REF,
        "ClassRef": REF,
        "UnitPrice": N,
        "Qty": N,
        "TaxCodeRef": REF,
        "ServiceDate": "DATE",
    },
}
_LINE = {
    **_SALES_LINE,
    "GroupLineDetail": {"GroupItemRef": REF, "Quantity": N, "Line": [_SALES_LINE]},
    "DiscountLineDetail": {
        "PercentBased": "BOOLEAN",
        "DiscountPercent": N,
        "DiscountAccountRef": REF,
    },
}

INVOICE_SHAPE: dict[str, Any] = {
    "Id": V,
    "SyncToken": V,
    "DocNumber": V,
    "TxnDate": "DATE",
    "DueDate": "DATE",
    "ShipDate": "DATE",
    "TrackingNum": V,
    "ShipMethodRef": REF,
    "CustomerRef": REF,
    "SalesTermRef": REF,
    "DepartmentRef": REF,
    "CurrencyRef": REF,
    "ExchangeRate": N,
    "TotalAmt": N,
    "Balance": N,
    "TxnTaxDetail": {"TotalTax": N},
    "BillEmail": {"Address": V},
    "BillAddr": ADDR,
    "ShipAddr": ADDR,
    "CustomerMemo": {"value": V},
    "PrivateNote": V,
    "MetaData": META,
    "Line": [_LINE],
    **TXN_REP_HEADER_SHAPE,
}


# Invoice-line staging, in one pass over the window's invoices: each invoice parsed once, its
# lines unnested once (a group line's sales lines in a second, lockstep unnest), the line
# number known from the positions (no window function), no intermediate table.
# $end_date is the calendar date of the window end (in the window's own time zone): an open
# invoice due before it is Overdue.
LINE_TYPE = "ENUM('SalesItem', 'Discount')"
STATUS = "ENUM('Open', 'Overdue', 'Paid', 'Voided', 'Deleted')"


def _kind(x: str) -> str:
    """What a top-level line becomes: S(ales), D(iscount), G(roup) or NULL (no row)."""
    return (
        f"CASE WHEN {x}.DetailType = 'SalesItemLineDetail' OR ({x}.DetailType IS NULL AND "
        f"{x}.SalesItemLineDetail IS NOT NULL) THEN 'S' "
        f"WHEN {x}.DetailType = 'DiscountLineDetail' THEN 'D' "
        f"WHEN {x}.DetailType = 'GroupLineDetail' THEN 'G' END"
    )


def _group_sales(x: str) -> str:
    """A group line's sales lines (the ones that become rows), each with its place in the group."""
    return (
        f"list_filter(list_transform({x}.GroupLineDetail.Line, "
        "lambda g, j: {'g': g, 'j': CAST(j AS INTEGER)}), "
        "lambda s: s.g.SalesItemLineDetail IS NOT NULL)"
    )


_INVOICE_LINES_SELECT = f"""
WITH inv AS (
  SELECT r.id, r.last_updated, coalesce(r.deleted, false) AS deleted,
         json_transform(r.payload, {shape(INVOICE_SHAPE)}) AS v
  FROM quickbooks.invoices AS r
  WHERE r.last_updated >= $start AND r.last_updated < $end
),
hdr AS (
  SELECT
    CAST(id AS VARCHAR) AS invoice_id,
    v.SyncToken AS invoice_sync_token,
    v.DocNumber AS doc_number,
    v.TxnDate AS txn_date,
    v.DueDate AS due_date,
    v.ShipDate AS ship_date,
    v.CustomerRef.value AS customer_id,
    v.CustomerRef.name AS customer_name,
    v.SalesTermRef.value AS sales_term_id,
    v.SalesTermRef.name AS sales_term_name,
    {TXN_REP_SQL} AS rep_id,
    v.ShipMethodRef.name AS ship_method,
    v.TrackingNum AS tracking_num,
    v.DepartmentRef.value AS department_id,
    v.CurrencyRef.value AS currency,
    TRY_CAST(v.ExchangeRate AS DOUBLE) AS exchange_rate,
    {number("v.TotalAmt", "total_amt")},
    {number("v.Balance", "balance")},
    {number("v.TxnTaxDetail.TotalTax", "total_tax")},
    list_sum(list_transform(
        list_filter(v.Line, lambda x: x.DetailType = 'DiscountLineDetail'),
        lambda x: TRY_CAST(x.Amount AS DOUBLE))) AS discount_amount,
    list_sum(list_transform(
        list_filter(v.Line, lambda x: x.DetailType = 'SubTotalLineDetail'),
        lambda x: TRY_CAST(x.Amount AS DOUBLE))) AS subtotal_amount,
    -- QBO keeps a voided invoice with TotalAmt 0 and the memo "Voided"; deletion is only
    -- visible as a CDC tombstone (raw deleted = true).
    CAST(CASE
      WHEN deleted THEN 'Deleted'
      WHEN TRY_CAST(v.TotalAmt AS DOUBLE) = 0 AND lower(trim(v.PrivateNote)) = 'voided'
        THEN 'Voided'
      WHEN TRY_CAST(v.Balance AS DOUBLE) = 0 THEN 'Paid'
      WHEN v.DueDate < $end_date THEN 'Overdue'
      ELSE 'Open'
    END AS {STATUS}) AS status,
    v.BillEmail.Address AS bill_email,
    {address("bill", "v.BillAddr")},
    {address("ship", "v.ShipAddr")},
    v.CustomerMemo.value AS customer_memo,
    v.PrivateNote AS private_note,
    v.MetaData.CreateTime AS invoice_created_at,
    last_updated AS invoice_last_updated,
    deleted,
    -- A deleted invoice is one row without line fields: one NULL line.
    CASE WHEN deleted THEN [NULL] ELSE v.Line END AS lines,
    -- How many rows each line yields; the running sum before a line is its LINE_NO offset.
    CASE WHEN deleted THEN [NULL] ELSE list_transform(v.Line, lambda x: CASE {_kind("x")}
      WHEN 'G' THEN len({_group_sales("x")}) WHEN 'S' THEN 1 WHEN 'D' THEN 1 ELSE 0 END)
    END AS yields
  FROM inv
),
top AS (
  -- unnest() beside generate_subscripts() in the select list walks both in lockstep; it is
  -- several times faster than a lateral "unnest(...) WITH ORDINALITY" join.
  SELECT hdr.* EXCLUDE (lines, yields), unnest(lines) AS l,
         CAST(generate_subscripts(lines, 1) AS INTEGER) AS pos,
         -- one row per line (the common invoice): the offset is the position before it
         unnest(CASE WHEN list_min(yields) = 1 AND list_max(yields) = 1
                     THEN range(0, len(yields))
                     ELSE list_transform(yields, lambda y, i:
                            coalesce(list_sum(list_slice(yields, 1, i - 1)), 0)) END) AS line_offset
  FROM hdr
),
kept AS (
  SELECT * FROM (SELECT top.*, {_kind("l")} AS kind FROM top)
  WHERE deleted OR kind IS NOT NULL
),
sub AS (
  -- a group line's sales lines, in lockstep with their place among its rows; any other line
  -- stays one row (one NULL element)
  SELECT kept.* EXCLUDE (gs), unnest(gs) AS s, CAST(generate_subscripts(gs, 1) AS INTEGER) AS k
  FROM (SELECT kept.*, CASE WHEN kind = 'G' THEN {_group_sales("l")} ELSE [NULL] END AS gs
        FROM kept) AS kept
),
rows AS (
  SELECT sub.* EXCLUDE (deleted, l, pos, line_offset, kind, s, k),
    CAST(CASE kind WHEN 'D' THEN 'Discount' WHEN 'S' THEN 'SalesItem' WHEN 'G' THEN 'SalesItem'
         END AS {LINE_TYPE}) AS line_type,
    CASE WHEN NOT deleted THEN pos END AS line_pos,
    s.j AS group_pos,
    CAST(CASE WHEN NOT deleted THEN line_offset + k END AS INTEGER) AS line_no,
    CASE WHEN kind = 'G' THEN s.g.Id ELSE l.Id END AS line_id,
    CASE WHEN kind = 'G' THEN s.g.LineNum ELSE l.LineNum END AS line_num,
    CASE WHEN kind = 'G' THEN s.g.Description ELSE l.Description END AS description,
    CASE WHEN kind = 'G' THEN l.Id END AS group_line_id,
    CASE WHEN kind = 'G' THEN l.GroupLineDetail.GroupItemRef.value END AS group_item_id,
    CASE WHEN kind = 'G' THEN l.GroupLineDetail.GroupItemRef.name END AS group_item_name,
    CASE WHEN kind = 'G' THEN l.GroupLineDetail.Quantity END AS group_qty_text,
    CASE kind WHEN 'G' THEN s.g.Amount WHEN 'S' THEN l.Amount WHEN 'D' THEN l.Amount END
      AS amount_text,
    CASE kind WHEN 'G' THEN s.g.SalesItemLineDetail WHEN 'S' THEN l.SalesItemLineDetail END AS d,
    CASE WHEN kind = 'D' THEN l.DiscountLineDetail END AS dd
  FROM sub
)
SELECT
  rows.* EXCLUDE (line_type, line_pos, group_pos, line_no, line_id, line_num, description,
                  group_line_id, group_item_id, group_item_name, group_qty_text,
                  amount_text, d, dd),
  line_type,
  line_pos,
  group_pos,
  line_id,
  line_num,
  description,
  group_line_id,
  group_item_id,
  group_item_name,
  TRY_CAST(group_qty_text AS DOUBLE) AS group_qty,
  group_qty_text,
  d.ItemRef.value AS item_id,
  d.ItemRef.name AS item_name,
  {number("d.Qty", "qty")},
  {number("d.UnitPrice", "unit_price")},
  TRY_CAST(amount_text AS DOUBLE) AS amount,
  amount_text,
  d.ServiceDate AS service_date,
  d.TaxCodeRef.value AS tax_code,
  d.ClassRef.value AS class_id,
  d.ClassRef.name AS class_name,
  dd.PercentBased AS discount_percent_based,
  {number("dd.DiscountPercent", "discount_percent")},
  dd.DiscountAccountRef.value AS discount_account_id,
  dd.DiscountAccountRef.name AS discount_account_name,
  line_no
FROM rows
"""


def _as_utc(value: datetime) -> datetime:
    # A naive datetime is taken as UTC rather than the DuckDB session time zone, so a window
    # means the same instants whatever machine runs it.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def refresh_invoice_lines(
    con: duckdb.DuckDBPyConnection,
    start: datetime,
    end: datetime,
    rep_source: RepSource | None = None,
) -> int:
    """Replace the ``[start, end)`` window of ``staging.invoice_lines``.

    Deletes every row whose ``invoice_last_updated`` is in the window, then inserts the rows
    of the raw invoices last updated in it, in one transaction, so a re-run replaces exactly
    that window and leaves other windows untouched. ``status`` is computed as of the window
    end, so re-running a window gives the same rows.

    Args:
        con: DuckDB connection holding ``quickbooks.invoices``.
        start: Window start (inclusive); naive values are UTC.
        end: Window end (exclusive); naive values are UTC. Its calendar date (in its own time
            zone) decides ``Overdue``.
        rep_source: Where sales reps come from (``rep_id``); default Employees (NULL).

    Returns:
        Number of rows inserted for the window (sales and discount lines, tombstones).
    """
    start, end = _as_utc(start), _as_utc(end)
    if end <= start:
        raise ValueError(f"empty window: start {start.isoformat()} >= end {end.isoformat()}")
    ensure_schema(con, "staging")
    window = {"start": start, "end": end}
    source = rep_source or RepSource("employee")
    params = {**window, "end_date": end.date(), **source.sql_params}
    con.execute("BEGIN TRANSACTION")
    try:
        empty_select = _INVOICE_LINES_SELECT.replace("$start AND", "$start AND false AND")
        # First run: create the table with the select's exact column types (empty window).
        con.execute("CREATE TABLE IF NOT EXISTS staging.invoice_lines AS " + empty_select, params)
        _add_missing_columns(con, empty_select, params)
        con.execute(
            "DELETE FROM staging.invoice_lines "
            "WHERE invoice_last_updated >= $start AND invoice_last_updated < $end",
            window,
        )
        rows = con.execute(
            "INSERT INTO staging.invoice_lines BY NAME " + _INVOICE_LINES_SELECT, params
        ).fetchone()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    inserted = int(rows[0]) if rows else 0
    logger.info(
        "staging.invoice_lines [%s, %s): %d rows", start.isoformat(), end.isoformat(), inserted
    )
    return inserted


def _add_missing_columns(
    con: duckdb.DuckDBPyConnection, select: str, params: dict[str, Any]
) -> None:
    """Add the select's columns that an older ``staging.invoice_lines`` lacks.

    A warehouse staged by an earlier release keeps its other windows; their rows read NULL in
    the new columns until those days are re-run.
    """
    have = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'staging' AND table_name = 'invoice_lines'"
        ).fetchall()
    }
    for name, col_type, *_ in con.execute("DESCRIBE " + select, params).fetchall():
        if name not in have:
            # Names and types come from our own SQL constant, never from user input.
            con.execute(f'ALTER TABLE staging.invoice_lines ADD COLUMN "{name}" {col_type}')
            if name == "line_no" and "line_pos" in have:
                con.execute(_FILL_LINE_NO)  # what invoice.fil computed before: fill it once
                logger.warning("staging.invoice_lines: added column line_no, filled")
                continue
            logger.warning(
                "staging.invoice_lines: added column %s; re-run earlier days to fill it", name
            )


# LINE_NO of the rows staged before the column existed, numbered as invoice.fil numbered them
# then (the kept lines of each invoice version in line/group order; none for tombstones).
_FILL_LINE_NO = """
UPDATE staging.invoice_lines AS t SET line_no = n.line_no
FROM (
  SELECT rowid AS row_id, CAST(row_number() OVER (PARTITION BY invoice_id, invoice_last_updated
                                 ORDER BY line_pos, group_pos NULLS FIRST) AS INTEGER) AS line_no
  FROM staging.invoice_lines
  WHERE line_type IS NOT NULL
) AS n
WHERE t.rowid = n.row_id
"""
