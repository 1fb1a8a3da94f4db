"""The orders of one window as the importer sees them: id, number, customer, content hash.

The hash covers everything the order says (header and lines), so a change made in
PocketAdvantage after an order was sent is noticed (:func:`same_content`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from qbpa_assets.lib.orders.payloads import MARKER_HASH_CHARS

_WINDOW_SQL = """
WITH lh AS (
    SELECT order_id,
           to_json(list({'n': line_no, 'i': item_id, 'q': qty, 'p': unit_price,
                         'd': description} ORDER BY line_no, item_id))::VARCHAR AS lj
    FROM inventiv_db.order_lines WHERE order_date >= $start AND order_date < $end
    GROUP BY order_id
)
SELECT o.order_id, o.order_no, o.order_date, o.customer_id, o.modified_at,
       md5(to_json({'no': o.order_no, 'date': o.order_date, 'c': o.customer_id,
                    'r': o.rep_id, 'po': o.po_number, 's': o.ship_date,
                    'n': o.notes})::VARCHAR || coalesce(lh.lj, '[]')) AS order_hash
FROM inventiv_db.orders o LEFT JOIN lh ON lh.order_id = o.order_id
WHERE o.order_date >= $start AND o.order_date < $end
"""


@dataclass
class WindowOrder:
    """One order of the window (``doc_number`` is filled in once it is mapped)."""

    order_id: str
    order_no: str | None
    order_date: date
    customer_id: str | None
    modified_at: datetime | None
    order_hash: str
    doc_number: str | None = None  # the mapped DocNumber (None: QuickBooks numbers it)


def window_orders(con: duckdb.DuckDBPyConnection, start: date, end: date) -> dict[str, WindowOrder]:
    """order_id → WindowOrder for the orders of ``[start, end)``."""
    rows = con.execute(_WINDOW_SQL, {"start": start, "end": end}).fetchall()
    return {r[0]: WindowOrder(*r) for r in rows}


def order_sort_key(order_id: str) -> tuple[int, int, str]:
    """Numeric ids numerically, then the rest as text: stable batch composition."""
    return (0, int(order_id), "") if order_id.isdigit() else (1, 0, order_id)


def same_content(recorded_hash: str | None, current_hash: str) -> bool:
    """Whether the ledger's hash (full, or the marker's prefix of an adopted document) is now's."""
    if recorded_hash is None:
        return True
    if len(recorded_hash) == MARKER_HASH_CHARS:
        return current_hash.startswith(recorded_hash)
    return recorded_hash == current_hash
