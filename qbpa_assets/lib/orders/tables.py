"""The DuckDB copy of the Inventiv orders: ``inventiv_db.orders`` and ``inventiv_db.order_lines``.

Columns are those of DESIGN.md's default Inventiv tables, typed; ``bad_values`` lists every
source value that could not be read as its type (the order is then rejected naming it, instead
of the value silently becoming NULL).
"""

from __future__ import annotations

import duckdb

ORDER_COLUMNS = (
    "order_id",
    "order_no",
    "order_date",
    "customer_id",
    "rep_id",
    "po_number",
    "ship_date",
    "notes",
    "modified_at",
)
LINE_COLUMNS = ("order_id", "line_no", "item_id", "qty", "unit_price", "description")

_DDL = """
CREATE SCHEMA IF NOT EXISTS inventiv_db;
CREATE TABLE IF NOT EXISTS inventiv_db.orders (
    order_id VARCHAR, order_no VARCHAR, order_date DATE, customer_id VARCHAR, rep_id VARCHAR,
    po_number VARCHAR, ship_date DATE, notes VARCHAR, modified_at TIMESTAMP,
    copied_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS inventiv_db.order_lines (
    order_id VARCHAR, line_no INTEGER, item_id VARCHAR, qty DECIMAL(18,4),
    unit_price DECIMAL(18,4), description VARCHAR, order_date DATE
);
ALTER TABLE inventiv_db.orders ADD COLUMN IF NOT EXISTS bad_values VARCHAR[];
ALTER TABLE inventiv_db.order_lines ADD COLUMN IF NOT EXISTS bad_values VARCHAR[];
"""

#: The staged order ``o``, and the line ``l`` with its order, as the mapping's SQL sees them.
HEADER_FROM = "inventiv_db.orders o"
LINE_FROM = "inventiv_db.order_lines l JOIN inventiv_db.orders o ON o.order_id = l.order_id"


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``inventiv_db.orders`` and ``inventiv_db.order_lines`` if missing."""
    con.execute(_DDL)
