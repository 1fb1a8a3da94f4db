"""The ledger ``quickbooks.sales_orders``: one row per Inventiv order, the memory of exactly once.

It records what became of each order (created / adopted / rejected, QuickBooks id and DocNumber,
reasons, what was shortened) and the content hash it was sent with. It is created if missing and
only ever upserted row by row: no run drops or rebuilds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import duckdb

from qbpa_assets.lib.orders.values import to_text

_LEDGER_DDL = """
CREATE SCHEMA IF NOT EXISTS quickbooks;
CREATE TABLE IF NOT EXISTS quickbooks.sales_orders (
    order_id VARCHAR PRIMARY KEY, order_no VARCHAR, order_date DATE, doc_number VARCHAR,
    qbo_entity VARCHAR, qbo_id VARCHAR, status VARCHAR, reasons VARCHAR[],
    request_id VARCHAR, source_modified_at TIMESTAMP, order_hash VARCHAR,
    first_seen_at TIMESTAMP, updated_at TIMESTAMP
);
ALTER TABLE quickbooks.sales_orders ADD COLUMN IF NOT EXISTS warnings VARCHAR[];
"""

LEDGER_COLUMNS = (
    "order_id",
    "order_no",
    "order_date",
    "doc_number",
    "qbo_entity",
    "qbo_id",
    "status",
    "reasons",
    "request_id",
    "source_modified_at",
    "order_hash",
    "warnings",
)
_LIST_COLUMNS = ("reasons", "warnings")
DONE = ("created", "adopted")  # statuses of an order that exists in QuickBooks


@dataclass
class LedgerRow:
    """One order's state in ``quickbooks.sales_orders``.

    ``warnings`` says what was shortened to fit QuickBooks' limits (a created order may have
    some); ``reasons`` why an order was rejected.
    """

    order_id: str
    order_no: str | None
    order_date: date | None
    doc_number: str | None
    qbo_entity: str
    qbo_id: str | None
    status: str  # 'created' | 'adopted' | 'rejected'
    reasons: list[str]
    request_id: str | None
    source_modified_at: datetime | None
    order_hash: str | None
    warnings: list[str] = field(default_factory=list)


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ledger table ``quickbooks.sales_orders`` if missing (never replaced)."""
    con.execute(_LEDGER_DDL)


def write_ledger(con: duckdb.DuckDBPyConnection, rows: Sequence[LedgerRow]) -> None:
    """Upsert ledger rows by order_id in one statement (first_seen_at is kept)."""
    if not rows:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    cols = [c for c in LEDGER_COLUMNS if c not in _LIST_COLUMNS]
    lists = [[to_text(getattr(r, c)) for r in rows] for c in cols]
    types = {
        "order_date": "DATE",
        "source_modified_at": "TIMESTAMP",
    }
    select = ", ".join(f"unnest(?::VARCHAR[])::{types.get(c, 'VARCHAR')} AS {c}" for c in cols)
    updates = ", ".join(
        f"{c} = excluded.{c}" for c in (*LEDGER_COLUMNS, "updated_at") if c != "order_id"
    )
    con.execute(
        f"""INSERT INTO quickbooks.sales_orders
            ({", ".join(cols)}, reasons, warnings, first_seen_at, updated_at)
            SELECT {select}, unnest(?::VARCHAR[][]) AS reasons,
                   unnest(?::VARCHAR[][]) AS warnings,
                   ?::TIMESTAMP AS first_seen_at, ?::TIMESTAMP AS updated_at
            ON CONFLICT (order_id) DO UPDATE SET {updates}""",
        [*lists, [list(r.reasons) for r in rows], [list(r.warnings) for r in rows], now, now],
    )


def read_ledger(con: duckdb.DuckDBPyConnection, order_ids: Iterable[str]) -> dict[str, LedgerRow]:
    """Ledger rows for these order ids."""
    ids = list(order_ids)
    if not ids:
        return {}
    rows = con.execute(
        f"SELECT {', '.join(LEDGER_COLUMNS)} FROM quickbooks.sales_orders "
        "WHERE order_id IN (SELECT unnest(?::VARCHAR[]))",
        [ids],
    ).fetchall()
    out = {}
    for row in rows:
        values = dict(zip(LEDGER_COLUMNS, row, strict=True))
        for name in _LIST_COLUMNS:
            values[name] = list(values[name] or [])
        out[row[0]] = LedgerRow(**values)
    return out


def doc_number_owners(con: duckdb.DuckDBPyConnection, doc_numbers: Iterable[str]) -> dict[str, str]:
    """DocNumber → the order id whose QuickBooks document (created or adopted) carries it."""
    numbers = sorted({d for d in doc_numbers if d})
    if not numbers:
        return {}
    rows = con.execute(
        "SELECT doc_number, min(order_id) FROM quickbooks.sales_orders "
        "WHERE status IN ('created', 'adopted') "
        "AND doc_number IN (SELECT unnest(?::VARCHAR[])) GROUP BY doc_number",
        [numbers],
    ).fetchall()
    return {doc: order_id for doc, order_id in rows}
