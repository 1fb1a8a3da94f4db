"""Copy one window of orders from the Inventiv database (ODBC) into DuckDB.

Values arrive as text and are cast in DuckDB, so SQLite's text dates and PostgreSQL's/SQL
Server's date/Decimal objects end up identical. A value that cannot be read as its type does
not fail the copy and does not silently become "missing": it is recorded in the row's
``bad_values`` and the order is rejected naming it (see :mod:`.validate`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from qbpa_assets.lib.orders.mapping import OrderMapping, OrderMappingError, resolve_mapping
from qbpa_assets.lib.orders.tables import ensure_tables
from qbpa_assets.lib.orders.values import to_text

if TYPE_CHECKING:  # pragma: no cover
    from qbpa_assets.lib.inventiv.db import InventivDb

log = logging.getLogger(__name__)

_DATE = "TRY_CAST(TRY_CAST({} AS TIMESTAMP) AS DATE)"
_NUMBER = "TRY_CAST({} AS DECIMAL(18,4))"
# column -> (typed cast, what a value that does not cast is called in the reject reason)
_ORDER_CASTS: dict[str, tuple[str, str | None]] = {
    "order_id": ("{}", None),
    "order_no": ("{}", None),
    "order_date": (_DATE, "order date {} is not a date"),
    "customer_id": ("{}", None),
    "rep_id": ("{}", None),
    "po_number": ("{}", None),
    "ship_date": (_DATE, "ship date {} is not a date"),
    "notes": ("{}", None),
    # An unreadable MODIFIED_AT only weakens change detection: not a reason to reject.
    "modified_at": ("TRY_CAST({} AS TIMESTAMP)", None),
}
_LINE_CASTS: dict[str, tuple[str, str | None]] = {
    "order_id": ("{}", None),
    "line_no": ("TRY_CAST(TRY_CAST({} AS DOUBLE) AS INTEGER)", "line number {} is not a number"),
    "item_id": ("{}", None),
    "qty": (
        _NUMBER,
        "quantity {} is not a number QuickBooks accepts (at most 14 digits before the point)",
    ),
    "unit_price": (
        _NUMBER,
        "price {} is not a number QuickBooks accepts (at most 14 digits before the point)",
    ),
    "description": ("{}", None),
}
CLIP = 40  # characters of a bad value quoted in a reason


@dataclass(frozen=True)
class CopyResult:
    """Rows copied for one window."""

    orders: int
    lines: int


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _bad_values_sql(casts: dict[str, tuple[str, str | None]]) -> str:
    """SQL for the list of values that are present in the source but do not cast."""
    items = []
    for column, (cast, label) in casts.items():
        if label is None:
            continue
        src = f"s.{column}"
        quoted = (
            f"'''' || CASE WHEN length({src}) > {CLIP} THEN left({src}, {CLIP}) || '…' "
            f"ELSE {src} END || ''''"
        )
        before, after = label.split("{}")
        items.append(
            f"CASE WHEN {src} IS NOT NULL AND trim({src}) <> '' AND {cast.format(src)} IS NULL "
            f"THEN {_sql_literal(before)} || {quoted} || {_sql_literal(after)} END"
        )
    return f"list_filter([{', '.join(items)}], lambda x: x IS NOT NULL)"


def _insert_columns(
    con: duckdb.DuckDBPyConnection,
    table: str,
    casts: dict[str, tuple[str, str | None]],
    names: list[str],
    rows: list[tuple],
    source: tuple[str, str],
    extra: dict[str, str] | None = None,
    extra_from: str = "",
    params: Sequence[Any] = (),
) -> int:
    """Bulk insert rows: one parameter per column (a text list), cast in SQL, unnested.

    Args:
        con: DuckDB connection.
        table: Target table.
        casts: Source column → (typed cast, bad-value label).
        names: Column names the source query returned.
        rows: The rows.
        source: (mapping file, query name) for the message when a column is missing.
        extra: More target columns → SQL computing them (over ``s`` and ``extra_from``).
        extra_from: A JOIN appended to the FROM clause.
        params: Parameters of ``extra_from``.
    """
    idx = {n: i for i, n in enumerate(names)}
    missing = [c for c in casts if c not in idx]
    if missing:
        raise OrderMappingError(
            source[0],
            f"must return column(s) {', '.join(missing)} (got {', '.join(names)}); "
            "alias them with AS",
            source[1],
            "source",
        )
    if not rows:
        return 0
    extra = extra or {}
    cols = list(casts)
    lists = [[to_text(r[idx[c]]) for r in rows] for c in cols]
    inner = ", ".join(f"unnest(?::VARCHAR[]) AS {c}" for c in cols)
    targets = ", ".join([*cols, *extra, "bad_values"])
    values = ", ".join(
        [*(casts[c][0].format(f"s.{c}") for c in cols), *extra.values(), _bad_values_sql(casts)]
    )
    # Parameters in text order: the column lists (inner SELECT), then those of extra_from.
    con.execute(
        f"INSERT INTO {table} ({targets}) SELECT {values} FROM (SELECT {inner}) s {extra_from}",
        [*lists, *params],
    )
    return len(rows)


def copy_orders(
    db: InventivDb,
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    mapping: OrderMapping | None = None,
) -> CopyResult:
    """Copy the orders of ``[start, end)`` (ORDER_DATE) and their lines into DuckDB.

    Delete-then-insert the window in one DuckDB transaction, so a re-run replaces exactly it.

    Args:
        db: The Inventiv database.
        con: DuckDB connection.
        start: First day (inclusive).
        end: Last day (exclusive).
        mapping: The order mapping (its source SQL); the packaged default if None.

    Returns:
        CopyResult with the number of orders and lines copied.

    Raises:
        OrderMappingError: A source query does not return the columns it must.
    """
    mapping = resolve_mapping(mapping)
    ensure_tables(con)
    now = datetime.now(UTC).replace(tzinfo=None)
    n_orders = n_lines = 0
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "DELETE FROM inventiv_db.order_lines WHERE order_date >= ? AND order_date < ?",
            [start, end],
        )
        con.execute(
            "DELETE FROM inventiv_db.orders WHERE order_date >= ? AND order_date < ?",
            [start, end],
        )
        for names, rows in db.iter_chunks(mapping.orders_sql, [start, end]):
            n_orders += _insert_columns(
                con,
                "inventiv_db.orders",
                _ORDER_CASTS,
                names,
                rows,
                (mapping.path, "orders_sql"),
                extra={"copied_at": f"TIMESTAMP '{now}'"},
            )
        # The database selected these orders for the window: one whose date does not parse
        # belongs to it (and is rejected naming the date), instead of vanishing from every day.
        con.execute(
            """UPDATE inventiv_db.orders SET order_date = ?,
                   bad_values = CASE
                       WHEN len([b FOR b IN bad_values IF starts_with(b, 'order date')]) > 0
                       THEN bad_values
                       ELSE list_append(bad_values, 'order date is missing or not a date') END
               WHERE order_date IS NULL""",
            [start],
        )
        # Lines take their order's date (the partition column) and are kept only when their
        # order is in the window, so both tables always describe the same orders.
        for names, rows in db.iter_chunks(mapping.lines_sql, [start, end]):
            n_lines += _insert_columns(
                con,
                "inventiv_db.order_lines",
                _LINE_CASTS,
                names,
                rows,
                (mapping.path, "lines_sql"),
                extra={"order_date": "o.order_date"},
                extra_from="JOIN inventiv_db.orders o ON o.order_id = s.order_id "
                "AND o.order_date >= ? AND o.order_date < ?",
                params=[start, end],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    log.info("copied %d orders, %d lines for [%s, %s)", n_orders, n_lines, start, end)
    return CopyResult(orders=n_orders, lines=n_lines)
