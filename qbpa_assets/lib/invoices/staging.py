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

How the JSON is parsed once and numbers kept as sent: :mod:`qbpa_assets.lib.warehouse.flatten`.
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

_SALES_LINE = {
    "Id": V,
    "LineNum": "INTEGER",
    "Description": V,
    "Amount": V,
    "DetailType": V,
    "SalesItemLineDetail": {
        "ItemRef": REF,
        "ClassRef": REF,
        "UnitPrice": V,
        "Qty": V,
        "TaxCodeRef": REF,
        "ServiceDate": "DATE",
    },
}
_LINE = {
    **_SALES_LINE,
    "GroupLineDetail": {"GroupItemRef": REF, "Quantity": V, "Line": [_SALES_LINE]},
    "DiscountLineDetail": {
        "PercentBased": "BOOLEAN",
        "DiscountPercent": V,
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
    "ExchangeRate": V,
    "TotalAmt": V,
    "Balance": V,
    "TxnTaxDetail": {"TotalTax": V},
    "BillEmail": {"Address": V},
    "BillAddr": ADDR,
    "ShipAddr": ADDR,
    "CustomerMemo": {"value": V},
    "PrivateNote": V,
    "MetaData": META,
    "Line": [_LINE],
    **TXN_REP_HEADER_SHAPE,
}


# Invoices in the window, parsed once; the header columns shared by all of an invoice's rows.
# $end_date is the calendar date of the window end (in the window's own time zone): an open
# invoice due before it is Overdue.
_INVOICE_LINES_SELECT = f"""
WITH inv AS (
  SELECT r.id, r.last_updated, coalesce(r.deleted, false) AS deleted,
         json_transform(r.payload, {shape(INVOICE_SHAPE)}) AS v
  FROM quickbooks.invoices AS r
  WHERE r.last_updated >= $start AND r.last_updated < $end
),
hdr AS MATERIALIZED (
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
    CASE
      WHEN deleted THEN 'Deleted'
      WHEN TRY_CAST(v.TotalAmt AS DOUBLE) = 0 AND lower(trim(v.PrivateNote)) = 'voided'
        THEN 'Voided'
      WHEN TRY_CAST(v.Balance AS DOUBLE) = 0 THEN 'Paid'
      WHEN v.DueDate < $end_date THEN 'Overdue'
      ELSE 'Open'
    END AS status,
    v.BillEmail.Address AS bill_email,
    {address("bill", "v.BillAddr")},
    {address("ship", "v.ShipAddr")},
    v.CustomerMemo.value AS customer_memo,
    v.PrivateNote AS private_note,
    v.MetaData.CreateTime AS invoice_created_at,
    last_updated AS invoice_last_updated,
    deleted,
    v.Line AS lines
  FROM inv
),
top AS (
  -- unnest() beside generate_subscripts() in the select list walks both in lockstep; it is
  -- several times faster than a lateral "unnest(...) WITH ORDINALITY" join.
  SELECT hdr.* EXCLUDE (lines, deleted), unnest(lines) AS l,
         CAST(generate_subscripts(lines, 1) AS INTEGER) AS line_pos
  FROM hdr
  WHERE NOT deleted
),
grp AS (
  SELECT top.* EXCLUDE (l), l.Id AS group_line_id,
         l.GroupLineDetail.GroupItemRef.value AS group_item_id,
         l.GroupLineDetail.GroupItemRef.name AS group_item_name,
         l.GroupLineDetail.Quantity AS group_qty_text,
         unnest(l.GroupLineDetail.Line) AS gl,
         CAST(generate_subscripts(l.GroupLineDetail.Line, 1) AS INTEGER) AS group_pos
  FROM top
  WHERE l.DetailType = 'GroupLineDetail'
),
expanded AS (
  -- BY NAME: each branch names only the columns it has; the others are NULL.
  -- top-level sales lines
  SELECT top.* EXCLUDE (l), 'SalesItem' AS line_type,
         l.Id AS line_id, l.LineNum AS line_num, l.Description AS description,
         l.Amount AS amount_text, l.SalesItemLineDetail AS d
  FROM top
  WHERE l.DetailType = 'SalesItemLineDetail'
     OR (l.DetailType IS NULL AND l.SalesItemLineDetail IS NOT NULL)
  UNION ALL BY NAME
  -- sales lines nested in a group (bundle) line, expanded
  SELECT grp.* EXCLUDE (gl), 'SalesItem' AS line_type,
         gl.Id AS line_id, gl.LineNum AS line_num, gl.Description AS description,
         gl.Amount AS amount_text, gl.SalesItemLineDetail AS d
  FROM grp
  WHERE gl.SalesItemLineDetail IS NOT NULL
  UNION ALL BY NAME
  -- discount lines, kept as rows of their own
  SELECT top.* EXCLUDE (l), 'Discount' AS line_type,
         l.Id AS line_id, l.LineNum AS line_num, l.Description AS description,
         l.Amount AS amount_text, l.DiscountLineDetail AS dd
  FROM top
  WHERE l.DetailType = 'DiscountLineDetail'
  UNION ALL BY NAME
  -- a deleted invoice: one row, no line fields, so that PocketAdvantage learns of the deletion
  SELECT hdr.* EXCLUDE (lines, deleted)
  FROM hdr
  WHERE deleted
)
SELECT
  expanded.* EXCLUDE (line_type, line_pos, group_pos, line_id, line_num, description,
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
  dd.DiscountAccountRef.name AS discount_account_name
FROM expanded
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
            logger.warning(
                "staging.invoice_lines: added column %s; re-run earlier days to fill it", name
            )
