"""Order validation in DuckDB SQL: every reason an order of the window cannot be sent.

Each order is checked against the staged QuickBooks customers and items and against QuickBooks'
field limits (:mod:`qbpa_assets.lib.quickbooks.limits`), collecting *every* reason, worded for a
sales rep. A per-order data problem (a value that is not a number or a date, an amount QuickBooks
cannot hold, a text too long) is a reason of that order, never an error of the run.

Hook for new rules: add a ``UNION ALL SELECT order_id, <rank>, <line_no>, <reason>`` branch to
``_VALIDATION_SQL`` (ranks order the reasons: 1x header, 2x customer and rep, 3x lines, 4x per
line). The sales rep's rules (:mod:`.reps`) join in once ``staging.sales_reps`` exists.
"""

from __future__ import annotations

from datetime import date

import duckdb

from qbpa_assets.lib.master_data.rep_source import RepSource
from qbpa_assets.lib.orders import reps
from qbpa_assets.lib.quickbooks.limits import AMOUNT_DIGITS_BEFORE_POINT, DOC_NUMBER_MAX

AMOUNT_LIMIT = 10**AMOUNT_DIGITS_BEFORE_POINT


def _num_text(column: str) -> str:
    """SQL showing a DECIMAL as people write it: 0, 2.5, -1 (not 0.0000)."""
    return (
        f"CASE WHEN {column} = trunc({column}) THEN trunc({column})::HUGEINT::VARCHAR "
        f"ELSE rtrim({column}::VARCHAR, '0') END"
    )


def _clip(column: str, n: int = 40) -> str:
    """SQL quoting at most ``n`` characters of a value in a reason."""
    return f"CASE WHEN length({column}) > {n} THEN left({column}, {n}) || '…' ELSE {column} END"


_LINE = "'line ' || coalesce(l.line_no::VARCHAR, '?') || ': '"
_LIMIT_TEXT = f"{AMOUNT_LIMIT:,}".replace(",", " ")

_VALIDATION_SQL = f"""
WITH o AS (
    SELECT * FROM inventiv_db.orders WHERE order_date >= $start AND order_date < $end
), l AS (
    SELECT l.* FROM inventiv_db.order_lines l JOIN o ON o.order_id = l.order_id
), r AS (
    SELECT o.order_id, 5 AS k, 0 AS n, unnest(o.bad_values) AS reason
      FROM o WHERE len(o.bad_values) > 0
    UNION ALL
    SELECT o.order_id, 10, 0, 'order number is empty'
      FROM o WHERE coalesce(trim(o.order_no), '') = ''
    UNION ALL
    SELECT o.order_id, 11, 0,
           'order number ' || {_clip("o.order_no")} || ' is ' || length(o.order_no)
           || ' characters; QuickBooks DocNumber allows at most {DOC_NUMBER_MAX}'
      FROM o WHERE length(o.order_no) > {DOC_NUMBER_MAX}
    UNION ALL
    SELECT o.order_id, 20, 0,
           CASE WHEN o.customer_id IS NULL THEN 'no customer'
                ELSE 'customer ' || {_clip("o.customer_id")} || ' does not exist in QuickBooks'
           END
      FROM o LEFT JOIN staging.customers c ON c.id = o.customer_id WHERE c.id IS NULL
    UNION ALL
    SELECT o.order_id, 21, 0,
           'customer ' || o.customer_id || ' (' || coalesce(c.display_name, '?')
           || ') is inactive in QuickBooks'
      FROM o JOIN staging.customers c ON c.id = o.customer_id WHERE NOT coalesce(c.active, false)
    UNION ALL
    SELECT o.order_id, 30, 0, 'order has no lines'
      FROM o WHERE NOT EXISTS (SELECT 1 FROM l WHERE l.order_id = o.order_id)
    UNION ALL
    SELECT l.order_id, 31, 0,
           'order total ' || round(sum(l.qty::DOUBLE * l.unit_price::DOUBLE), 2)::VARCHAR
           || ' is more than QuickBooks can hold (less than {_LIMIT_TEXT})'
      FROM l GROUP BY l.order_id
    HAVING abs(sum(l.qty::DOUBLE * l.unit_price::DOUBLE)) >= {AMOUNT_LIMIT}
       AND NOT bool_or(abs(l.qty::DOUBLE * l.unit_price::DOUBLE) >= {AMOUNT_LIMIT})
    UNION ALL
    SELECT l.order_id, 39, coalesce(l.line_no, 0), {_LINE} || unnest(l.bad_values)
      FROM l WHERE len(l.bad_values) > 0
    UNION ALL
    SELECT l.order_id, 40, coalesce(l.line_no, 0),
           {_LINE} || CASE WHEN l.item_id IS NULL THEN 'no item'
                   ELSE 'item ' || {_clip("l.item_id")} || ' does not exist in QuickBooks' END
      FROM l LEFT JOIN staging.items i ON i.id = l.item_id WHERE i.id IS NULL
    UNION ALL
    SELECT l.order_id, 41, coalesce(l.line_no, 0),
           {_LINE} || 'item ' || l.item_id || ' ('
           || coalesce(i.name, '?') || ') is inactive in QuickBooks'
      FROM l JOIN staging.items i ON i.id = l.item_id WHERE NOT coalesce(i.active, false)
    UNION ALL
    SELECT l.order_id, 42, coalesce(l.line_no, 0),
           {_LINE} || coalesce('quantity ' || {_num_text("l.qty")} || ' must be greater than 0',
                               'quantity is missing or not a number')
      FROM l WHERE (l.qty IS NULL OR l.qty <= 0)
       AND len([b FOR b IN coalesce(l.bad_values, []) IF starts_with(b, 'quantity ')]) = 0
    UNION ALL
    SELECT l.order_id, 43, coalesce(l.line_no, 0),
           {_LINE} || coalesce('price ' || {_num_text("l.unit_price")} || ' must not be negative',
                               'price is missing or not a number')
      FROM l WHERE (l.unit_price IS NULL OR l.unit_price < 0)
       AND len([b FOR b IN coalesce(l.bad_values, []) IF starts_with(b, 'price ')]) = 0
    UNION ALL
    SELECT l.order_id, 44, coalesce(l.line_no, 0),
           {_LINE} || 'quantity ' || {_num_text("l.qty")} || ' × price '
           || {_num_text("l.unit_price")} || ' = '
           || round(l.qty::DOUBLE * l.unit_price::DOUBLE, 2)::VARCHAR
           || ' is more than QuickBooks can hold (amounts, prices and quantities must be less '
           || 'than {_LIMIT_TEXT})'
      FROM l WHERE abs(l.qty::DOUBLE * l.unit_price::DOUBLE) >= {AMOUNT_LIMIT}
          OR abs(l.qty) >= {AMOUNT_LIMIT} OR abs(l.unit_price) >= {AMOUNT_LIMIT}
)
SELECT order_id, list(reason ORDER BY k, n, reason) AS reasons
FROM r GROUP BY order_id
"""


_REASONS_END = "\n)\nSELECT order_id, list(reason ORDER BY k, n, reason) AS reasons"
# The same with the sales rep's rules in the union (their ranks place their reasons).
_VALIDATION_WITH_REPS_SQL = _VALIDATION_SQL.replace(
    _REASONS_END, "\n    UNION ALL" + reps.REP_REASONS_SQL + _REASONS_END
)


def validate_orders(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    rep_source: RepSource | None = None,
) -> dict[str, list[str]]:
    """Every reason each order of the window cannot be sent (valid orders are absent).

    Args:
        con: DuckDB with the staged orders and master data.
        start: First day of the window (inclusive).
        end: Last day (exclusive).
        rep_source: Where sales reps come from; with it, and once ``staging.sales_reps``
            exists, an unknown or inactive ``REP_ID`` is a reason too.

    Returns:
        order_id → reasons, in a stable order (header reasons first, then by line).
    """
    sql, params = _VALIDATION_SQL, {"start": start, "end": end}
    if rep_source is not None and reps.reps_staged(con, rep_source):
        sql = _VALIDATION_WITH_REPS_SQL
        params["rep_unknown"] = reps.unknown_rep_phrase(rep_source)
    rows = con.execute(sql, params).fetchall()
    return {order_id: list(reasons) for order_id, reasons in rows}
