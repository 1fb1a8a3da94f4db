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

Storage: ``staging.invoice_lines_stored`` persists only the columns the default invoice.fil
layout, the invoice check and the LINE_NO fill read (`line_sql.STORED_COLUMNS`, parsed with only
their JSON keys); ``staging.invoice_lines`` is a view with every column, the others computed on
demand from the raw invoice version a row was staged from (a version since replaced in the raw
table reads NULL there until its window is re-run). The SQL: :mod:`.line_sql`; how the JSON is
parsed once: :mod:`qbpa_assets.lib.warehouse.flatten`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import duckdb

from qbpa_assets.lib.invoices.line_sql import (
    ALL_COLUMNS,
    INVOICE_SHAPE,
    ROW_KEY,
    STORED_COLUMNS,
    STORED_SHAPE,
    lines_select,
)
from qbpa_assets.lib.master_data.rep_source import RepSource
from qbpa_assets.lib.warehouse.tables import ensure_schema

logger = logging.getLogger(__name__)

#: The persisted table (`STORED_COLUMNS`) and the view of every column over it.
STORED_TABLE = "staging.invoice_lines_stored"
VIEW = "staging.invoice_lines"

_WINDOW = "r.last_updated >= $start AND r.last_updated < $end"
_INVOICE_LINES_SELECT = lines_select(STORED_COLUMNS, STORED_SHAPE, _WINDOW)
_STORED_ORDER = [name for name in ALL_COLUMNS if name in STORED_COLUMNS]
_COMPUTED = [name for name in ALL_COLUMNS if name not in STORED_COLUMNS]

# The view: the stored columns as staged, the others computed from the raw invoice version
# the row was staged from (same id and LastUpdatedTime; NULL once a later version replaced it
# in the raw table, until that row's window is re-run and drops it).
_VIEW_SQL = (
    f"CREATE OR REPLACE VIEW {VIEW} AS SELECT "
    + ", ".join(f"s.{name}" if name in STORED_COLUMNS else f"c.{name}" for name in ALL_COLUMNS)
    + f" FROM {STORED_TABLE} AS s LEFT JOIN ("
    + lines_select({*_COMPUTED, *ROW_KEY}, INVOICE_SHAPE, "true")
    + ") AS c ON "
    + " AND ".join(f"c.{k} IS NOT DISTINCT FROM s.{k}" for k in ROW_KEY)
)


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
        _migrate_wide_table(con)
        empty_select = _INVOICE_LINES_SELECT.replace("$start AND", "$start AND false AND")
        # First run: create the table with the select's exact column types (empty window).
        con.execute(f"CREATE TABLE IF NOT EXISTS {STORED_TABLE} AS " + empty_select, params)
        _add_missing_columns(con, empty_select, params)
        con.execute(
            f"DELETE FROM {STORED_TABLE} "
            "WHERE invoice_last_updated >= $start AND invoice_last_updated < $end",
            window,
        )
        rows = con.execute(
            f"INSERT INTO {STORED_TABLE} BY NAME " + _INVOICE_LINES_SELECT, params
        ).fetchone()
        con.execute(_VIEW_SQL)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    inserted = int(rows[0]) if rows else 0
    logger.info("%s [%s, %s): %d rows", STORED_TABLE, start.isoformat(), end.isoformat(), inserted)
    return inserted


def _add_missing_columns(
    con: duckdb.DuckDBPyConnection, select: str, params: dict[str, Any]
) -> None:
    """Add the select's columns that an older ``staging.invoice_lines_stored`` lacks.

    A warehouse staged by an earlier release keeps its other windows; their rows read NULL in
    the new columns until those days are re-run.
    """
    have = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'staging' AND table_name = 'invoice_lines_stored'"
        ).fetchall()
    }
    for name, col_type, *_ in con.execute("DESCRIBE " + select, params).fetchall():
        if name not in have:
            # Names and types come from our own SQL constant, never from user input.
            con.execute(f'ALTER TABLE {STORED_TABLE} ADD COLUMN "{name}" {col_type}')
            if name == "line_no" and "line_pos" in have:
                con.execute(_FILL_LINE_NO)  # what invoice.fil computed before: fill it once
                logger.warning("%s: added column line_no, filled", STORED_TABLE)
                continue
            logger.warning(
                "%s: added column %s; re-run earlier days to fill it", STORED_TABLE, name
            )


# LINE_NO of the rows staged before the column existed, numbered as invoice.fil numbered them
# then (the kept lines of each invoice version in line/group order; none for tombstones).
_FILL_LINE_NO = f"""
UPDATE {STORED_TABLE} AS t SET line_no = n.line_no
FROM (
  SELECT rowid AS row_id, CAST(row_number() OVER (PARTITION BY invoice_id, invoice_last_updated
                                 ORDER BY line_pos, group_pos NULLS FIRST) AS INTEGER) AS line_no
  FROM {STORED_TABLE}
  WHERE line_type IS NOT NULL
) AS n
WHERE t.rowid = n.row_id
"""


def _migrate_wide_table(con: duckdb.DuckDBPyConnection) -> None:
    """Keep a ``staging.invoice_lines`` table staged by an earlier release as the stored table.

    Its rows stay; its columns beyond `STORED_COLUMNS` are no longer read (the view computes
    them) and read NULL in the rows inserted from now on.
    """
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_schema = 'staging' AND table_name = 'invoice_lines'"
    ).fetchone()
    if kind and kind[0] == "BASE TABLE":
        con.execute("ALTER TABLE staging.invoice_lines RENAME TO invoice_lines_stored")
        logger.warning("staging.invoice_lines: the table is now %s under a view", STORED_TABLE)
