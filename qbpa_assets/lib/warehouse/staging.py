"""Staging SQL: flatten the raw QuickBooks JSON into typed DuckDB tables.

The raw assets land every QBO entity as one row with its JSON ``payload``. Here each payload is
parsed exactly once with ``json_transform`` into a STRUCT shaped like the QBO object (missing
keys become NULL, unknown keys are ignored), and the columns are picked from that struct. Parsing
once per document matters: an invoice is a few kB of JSON and one ``->>`` per column would parse
it again for every column.

Numbers: typed columns (``unit_price``, ``amount``, …) are DOUBLE for SQL arithmetic and the
order-import checks. Each has a ``*_text`` companion holding the number exactly as QuickBooks
sent it (``150.0`` stays ``150.0``, ``150`` stays ``150``), which the default `.fil` layouts
export; a DOUBLE would print ``150`` as ``150.0``.

Tables (schema ``staging``, one per asset key):

* ``staging.customers`` — one row per customer (active and inactive), jobs included.
* ``staging.items`` — one row per item, every type (Inventory, Service, NonInventory, Group,
  Category).
* ``staging.invoice_lines`` — one row per invoice line of the invoices changed in a window, the
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
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import duckdb

logger = logging.getLogger(__name__)

_V = "VARCHAR"
_REF = {"value": _V, "name": _V}
_ADDR = {
    "Id": _V,
    "Line1": _V,
    "Line2": _V,
    "Line3": _V,
    "Line4": _V,
    "Line5": _V,
    "City": _V,
    "CountrySubDivisionCode": _V,
    "PostalCode": _V,
    "Country": _V,
}
_META = {"CreateTime": "TIMESTAMPTZ", "LastUpdatedTime": "TIMESTAMPTZ"}

# Numbers are read as VARCHAR so that the text QuickBooks sent survives (see module docstring).
CUSTOMER_SHAPE: dict[str, Any] = {
    "Id": _V,
    "SyncToken": _V,
    "DisplayName": _V,
    "Title": _V,
    "GivenName": _V,
    "MiddleName": _V,
    "FamilyName": _V,
    "Suffix": _V,
    "CompanyName": _V,
    "FullyQualifiedName": _V,
    "PrintOnCheckName": _V,
    "Active": "BOOLEAN",
    "Job": "BOOLEAN",
    "BillWithParent": "BOOLEAN",
    "ParentRef": _REF,
    "Level": "INTEGER",
    "Taxable": "BOOLEAN",
    "Balance": _V,
    "BalanceWithJobs": _V,
    "CurrencyRef": _REF,
    "SalesTermRef": _REF,
    "PaymentMethodRef": _REF,
    "CustomerTypeRef": _REF,
    "DefaultTaxCodeRef": _REF,
    "PreferredDeliveryMethod": _V,
    "ResaleNum": _V,
    "Notes": _V,
    "PrimaryEmailAddr": {"Address": _V},
    "PrimaryPhone": {"FreeFormNumber": _V},
    "Mobile": {"FreeFormNumber": _V},
    "Fax": {"FreeFormNumber": _V},
    "AlternatePhone": {"FreeFormNumber": _V},
    "WebAddr": {"URI": _V},
    "BillAddr": _ADDR,
    "ShipAddr": _ADDR,
    "MetaData": _META,
}

ITEM_SHAPE: dict[str, Any] = {
    "Id": _V,
    "SyncToken": _V,
    "Name": _V,
    "Sku": _V,
    "Description": _V,
    "PurchaseDesc": _V,
    "Active": "BOOLEAN",
    "SubItem": "BOOLEAN",
    "ParentRef": _REF,
    "Level": "INTEGER",
    "FullyQualifiedName": _V,
    "Taxable": "BOOLEAN",
    "SalesTaxIncluded": "BOOLEAN",
    "UnitPrice": _V,
    "PurchaseCost": _V,
    "Type": _V,
    "TrackQtyOnHand": "BOOLEAN",
    "QtyOnHand": _V,
    "InvStartDate": "DATE",
    "IncomeAccountRef": _REF,
    "ExpenseAccountRef": _REF,
    "AssetAccountRef": _REF,
    "SalesTaxCodeRef": _REF,
    "MetaData": _META,
}

_SALES_LINE = {
    "Id": _V,
    "LineNum": "INTEGER",
    "Description": _V,
    "Amount": _V,
    "DetailType": _V,
    "SalesItemLineDetail": {
        "ItemRef": _REF,
        "ClassRef": _REF,
        "UnitPrice": _V,
        "Qty": _V,
        "TaxCodeRef": _REF,
        "ServiceDate": "DATE",
    },
}
_LINE = {
    **_SALES_LINE,
    "GroupLineDetail": {"GroupItemRef": _REF, "Quantity": _V, "Line": [_SALES_LINE]},
    "DiscountLineDetail": {
        "PercentBased": "BOOLEAN",
        "DiscountPercent": _V,
        "DiscountAccountRef": _REF,
    },
}

INVOICE_SHAPE: dict[str, Any] = {
    "Id": _V,
    "SyncToken": _V,
    "DocNumber": _V,
    "TxnDate": "DATE",
    "DueDate": "DATE",
    "ShipDate": "DATE",
    "TrackingNum": _V,
    "ShipMethodRef": _REF,
    "CustomerRef": _REF,
    "SalesTermRef": _REF,
    "DepartmentRef": _REF,
    "CurrencyRef": _REF,
    "ExchangeRate": _V,
    "TotalAmt": _V,
    "Balance": _V,
    "TxnTaxDetail": {"TotalTax": _V},
    "BillEmail": {"Address": _V},
    "BillAddr": _ADDR,
    "ShipAddr": _ADDR,
    "CustomerMemo": {"value": _V},
    "PrivateNote": _V,
    "MetaData": _META,
    "Line": [_LINE],
}


def _shape(shape: dict[str, Any]) -> str:
    # The shapes are module constants without quotes, so a SQL string literal is safe here;
    # json_transform needs a constant structure argument, not a bound parameter.
    return "'" + json.dumps(shape, separators=(",", ":")) + "'"


def _num(expr: str, name: str) -> str:
    """A DOUBLE column plus its as-sent ``*_text`` companion."""
    return f"TRY_CAST({expr} AS DOUBLE) AS {name},\n    {expr} AS {name}_text"


def _addr(prefix: str, expr: str) -> str:
    parts = [
        ("line1", "Line1"),
        ("line2", "Line2"),
        ("line3", "Line3"),
        ("line4", "Line4"),
        ("line5", "Line5"),
        ("city", "City"),
        ("state", "CountrySubDivisionCode"),
        ("postal_code", "PostalCode"),
        ("country", "Country"),
    ]
    return ",\n    ".join(f"{expr}.{key} AS {prefix}_{col}" for col, key in parts)


CUSTOMERS_SQL = f"""
CREATE OR REPLACE TABLE staging.customers AS
WITH src AS (
  SELECT r.id, r.sync_token, r.last_updated, r.active, r.payload,
         json_transform(r.payload, {_shape(CUSTOMER_SHAPE)}) AS c
  FROM quickbooks.customers AS r
)
SELECT
    CAST(id AS VARCHAR) AS id,
    coalesce(c.SyncToken, sync_token) AS sync_token,
    c.DisplayName AS display_name,
    c.CompanyName AS company_name,
    c.Title AS title,
    c.GivenName AS given_name,
    c.MiddleName AS middle_name,
    c.FamilyName AS family_name,
    c.Suffix AS suffix,
    c.FullyQualifiedName AS fully_qualified_name,
    c.PrintOnCheckName AS print_on_check_name,
    CAST(coalesce(active, c.Active, true) AS BOOLEAN) AS active,
    coalesce(c.Job, false) AS is_job,
    c.ParentRef.value AS parent_id,
    c.ParentRef.name AS parent_name,
    coalesce(c.Level, 0) AS level,
    c.BillWithParent AS bill_with_parent,
    c.Taxable AS taxable,
    {_num("c.Balance", "balance")},
    {_num("c.BalanceWithJobs", "balance_with_jobs")},
    c.CurrencyRef.value AS currency,
    c.SalesTermRef.value AS sales_term_id,
    c.SalesTermRef.name AS sales_term_name,
    c.PaymentMethodRef.value AS payment_method_id,
    c.CustomerTypeRef.value AS customer_type_id,
    c.DefaultTaxCodeRef.value AS tax_code_id,
    c.PreferredDeliveryMethod AS preferred_delivery_method,
    c.ResaleNum AS resale_num,
    c.PrimaryEmailAddr.Address AS email,
    c.PrimaryPhone.FreeFormNumber AS phone,
    c.Mobile.FreeFormNumber AS mobile,
    c.Fax.FreeFormNumber AS fax,
    c.AlternatePhone.FreeFormNumber AS alternate_phone,
    c.WebAddr.URI AS website,
    {_addr("bill", "c.BillAddr")},
    {_addr("ship", "c.ShipAddr")},
    c.Notes AS notes,
    c.MetaData.CreateTime AS created_at,
    coalesce(last_updated, c.MetaData.LastUpdatedTime) AS last_updated,
    payload
FROM src
ORDER BY TRY_CAST(id AS BIGINT) NULLS LAST, id
"""

ITEMS_SQL = f"""
CREATE OR REPLACE TABLE staging.items AS
WITH src AS (
  SELECT r.id, r.sync_token, r.last_updated, r.active, r.payload,
         json_transform(r.payload, {_shape(ITEM_SHAPE)}) AS i
  FROM quickbooks.items AS r
)
SELECT
    CAST(id AS VARCHAR) AS id,
    coalesce(i.SyncToken, sync_token) AS sync_token,
    i.Name AS name,
    i.FullyQualifiedName AS fully_qualified_name,
    i.Sku AS sku,
    i.Type AS type,
    CAST(coalesce(active, i.Active, true) AS BOOLEAN) AS active,
    i.Description AS description,
    i.PurchaseDesc AS purchase_description,
    {_num("i.UnitPrice", "unit_price")},
    {_num("i.PurchaseCost", "purchase_cost")},
    i.Taxable AS taxable,
    i.SalesTaxIncluded AS sales_tax_included,
    i.SalesTaxCodeRef.value AS sales_tax_code_id,
    i.TrackQtyOnHand AS track_qty_on_hand,
    {_num("i.QtyOnHand", "qty_on_hand")},
    i.InvStartDate AS inv_start_date,
    coalesce(i.SubItem, false) AS sub_item,
    i.ParentRef.value AS parent_id,
    i.ParentRef.name AS parent_name,
    coalesce(i.Level, 0) AS level,
    i.IncomeAccountRef.value AS income_account_id,
    i.ExpenseAccountRef.value AS expense_account_id,
    i.AssetAccountRef.value AS asset_account_id,
    i.MetaData.CreateTime AS created_at,
    coalesce(last_updated, i.MetaData.LastUpdatedTime) AS last_updated,
    payload
FROM src
ORDER BY TRY_CAST(id AS BIGINT) NULLS LAST, id
"""

# Invoices in the window, parsed once; the header columns shared by all of an invoice's rows.
# $end_date is the calendar date of the window end (in the window's own time zone): an open
# invoice due before it is Overdue.
_INVOICE_LINES_SELECT = f"""
WITH inv AS (
  SELECT r.id, r.last_updated, coalesce(r.deleted, false) AS deleted,
         json_transform(r.payload, {_shape(INVOICE_SHAPE)}) AS v
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
    v.ShipMethodRef.name AS ship_method,
    v.TrackingNum AS tracking_num,
    v.DepartmentRef.value AS department_id,
    v.CurrencyRef.value AS currency,
    TRY_CAST(v.ExchangeRate AS DOUBLE) AS exchange_rate,
    {_num("v.TotalAmt", "total_amt")},
    {_num("v.Balance", "balance")},
    {_num("v.TxnTaxDetail.TotalTax", "total_tax")},
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
    {_addr("bill", "v.BillAddr")},
    {_addr("ship", "v.ShipAddr")},
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
  {_num("d.Qty", "qty")},
  {_num("d.UnitPrice", "unit_price")},
  TRY_CAST(amount_text AS DOUBLE) AS amount,
  amount_text,
  d.ServiceDate AS service_date,
  d.TaxCodeRef.value AS tax_code,
  d.ClassRef.value AS class_id,
  d.ClassRef.name AS class_name,
  dd.PercentBased AS discount_percent_based,
  {_num("dd.DiscountPercent", "discount_percent")},
  dd.DiscountAccountRef.value AS discount_account_id,
  dd.DiscountAccountRef.name AS discount_account_name
FROM expanded
"""


def _ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def refresh_customers(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``staging.customers`` from ``quickbooks.customers``.

    Args:
        con: DuckDB connection holding the raw table.

    Returns:
        Number of staged rows.
    """
    _ensure_schema(con)
    con.execute(CUSTOMERS_SQL)
    rows = _count(con, "staging.customers")
    logger.info("staging.customers: %d rows", rows)
    return rows


def refresh_items(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``staging.items`` from ``quickbooks.items``.

    Args:
        con: DuckDB connection holding the raw table.

    Returns:
        Number of staged rows.
    """
    _ensure_schema(con)
    con.execute(ITEMS_SQL)
    rows = _count(con, "staging.items")
    logger.info("staging.items: %d rows", rows)
    return rows


def _as_utc(value: datetime) -> datetime:
    # A naive datetime is taken as UTC rather than the DuckDB session time zone, so a window
    # means the same instants whatever machine runs it.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def refresh_invoice_lines(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> int:
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

    Returns:
        Number of rows inserted for the window (sales and discount lines, tombstones).
    """
    start, end = _as_utc(start), _as_utc(end)
    if end <= start:
        raise ValueError(f"empty window: start {start.isoformat()} >= end {end.isoformat()}")
    _ensure_schema(con)
    window = {"start": start, "end": end}
    params = {**window, "end_date": end.date()}
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


RAW_TABLES_DDL = """
CREATE SCHEMA IF NOT EXISTS quickbooks;
CREATE TABLE IF NOT EXISTS quickbooks.customers (id VARCHAR PRIMARY KEY, sync_token VARCHAR,
    last_updated TIMESTAMPTZ, active BOOLEAN, payload JSON);
CREATE TABLE IF NOT EXISTS quickbooks.items (id VARCHAR PRIMARY KEY, sync_token VARCHAR,
    last_updated TIMESTAMPTZ, active BOOLEAN, payload JSON);
CREATE TABLE IF NOT EXISTS quickbooks.invoices (id VARCHAR PRIMARY KEY, sync_token VARCHAR,
    last_updated TIMESTAMPTZ, txn_date DATE, deleted BOOLEAN, payload JSON);
"""

_RAW_INSERT = {
    "customers": """
        INSERT OR REPLACE INTO quickbooks.customers
        SELECT j->>'Id', j->>'SyncToken', CAST(j->>'$.MetaData.LastUpdatedTime' AS TIMESTAMPTZ),
               coalesce(TRY_CAST(j->>'Active' AS BOOLEAN), true), j
        FROM (SELECT unnest(CAST($rows AS JSON[])) AS j)""",
    "items": """
        INSERT OR REPLACE INTO quickbooks.items
        SELECT j->>'Id', j->>'SyncToken', CAST(j->>'$.MetaData.LastUpdatedTime' AS TIMESTAMPTZ),
               coalesce(TRY_CAST(j->>'Active' AS BOOLEAN), true), j
        FROM (SELECT unnest(CAST($rows AS JSON[])) AS j)""",
    # A CDC tombstone is {"Id", "status": "Deleted", "MetaData": {...}} without a TxnDate.
    "invoices": """
        INSERT OR REPLACE INTO quickbooks.invoices
        SELECT j->>'Id', j->>'SyncToken', CAST(j->>'$.MetaData.LastUpdatedTime' AS TIMESTAMPTZ),
               TRY_CAST(j->>'TxnDate' AS DATE), coalesce(j->>'status' = 'Deleted', false), j
        FROM (SELECT unnest(CAST($rows AS JSON[])) AS j)""",
}


def existing_tables(con: duckdb.DuckDBPyConnection, schema: str = "staging") -> set[str]:
    """Names of the tables that exist in ``schema`` (e.g. which staged tables are built)."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [schema]
    ).fetchall()
    return {row[0] for row in rows}


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw ``quickbooks.*`` tables if missing (the shape the raw assets write)."""
    con.execute(RAW_TABLES_DDL)


def load_raw(con: duckdb.DuckDBPyConnection, entity: str, objects: list[dict[str, Any]]) -> int:
    """Upsert QBO JSON objects into a raw table in one statement (by ``Id``).

    Used by tests, the benchmark and the demo; the dicts go in as JSON text through a single
    list parameter rather than row by row.

    Args:
        con: DuckDB connection.
        entity: ``customers``, ``items`` or ``invoices``.
        objects: QBO objects exactly as the API returns them (or CDC tombstones).

    Returns:
        Number of objects loaded.
    """
    if entity not in _RAW_INSERT:
        raise ValueError(f"unknown raw entity {entity!r}")
    create_raw_tables(con)
    if objects:
        con.execute(_RAW_INSERT[entity], {"rows": [json.dumps(o) for o in objects]})
    return len(objects)
