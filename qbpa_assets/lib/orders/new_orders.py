"""The new-order sensor's query: orders after a cursor ``(MODIFIED_AT, ORDER_ID)``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from qbpa_assets.lib.orders.mapping import OrderMapping, OrderMappingError
from qbpa_assets.lib.orders.values import id_sort_key, to_date, to_datetime

if TYPE_CHECKING:  # pragma: no cover
    from qbpa_assets.lib.inventiv.db import InventivDb

NEW_ORDER_COLUMNS = ("order_id", "order_date", "modified_at")


@dataclass(frozen=True)
class NewOrder:
    """One order the sensor has not seen yet.

    Attributes:
        order_id: The Inventiv ORDER_ID as the database returned it (int or str); pass it back
            unchanged as the sensor cursor.
        order_date: ORDER_DATE, which decides the daily partition.
        modified_at: MODIFIED_AT (naive timestamp, as stored).
    """

    order_id: Any
    order_date: date
    modified_at: datetime


def fetch_new_orders(
    db: InventivDb,
    mapping: OrderMapping,
    after_modified_at: datetime | None,
    after_order_id: Any = None,
    limit: int = 1000,
) -> list[NewOrder]:
    """Orders whose ``(MODIFIED_AT, ORDER_ID)`` is after the cursor, oldest first.

    The database filters coarsely (``MODIFIED_AT >= cursor - 1 s``) and the exact tuple
    comparison happens here on normalized values: text timestamps (SQLite) are stored in
    whatever format the writer chose, so comparing them to a bound parameter as strings can
    silently skip rows that share the cursor's timestamp.

    Args:
        db: The Inventiv database.
        mapping: The order mapping (its ``[source] new_orders_sql``).
        after_modified_at: The cursor's MODIFIED_AT, or None for "from the beginning".
        after_order_id: The cursor's ORDER_ID (as returned in a previous NewOrder).
        limit: Maximum orders returned.

    Returns:
        Up to ``limit`` NewOrder records ordered by (modified_at, order_id).

    Raises:
        OrderMappingError: The query does not return the columns it must (configuration).
        InventivDbError: The database cannot be reached or the query fails.
    """
    lower = (
        datetime(1900, 1, 1)
        if after_modified_at is None
        else after_modified_at - timedelta(seconds=1)
    )
    cursor_key = None
    if after_modified_at is not None:
        cursor_key = (after_modified_at, id_sort_key(after_order_id))
    out: list[NewOrder] = []
    chunks = db.iter_chunks(mapping.new_orders_sql, [lower], limit + 100)
    for names, rows in chunks:
        idx = {n: i for i, n in enumerate(names)}
        for col in NEW_ORDER_COLUMNS:
            if col not in idx:
                chunks.close()
                raise OrderMappingError(
                    mapping.path,
                    f"must return a column named {col!r} (got {', '.join(names)}); "
                    "alias it with AS",
                    "new_orders_sql",
                    "source",
                )
        for row in rows:
            mod = to_datetime(row[idx["modified_at"]])
            odate = to_date(row[idx["order_date"]])
            oid = row[idx["order_id"]]
            if mod is None or odate is None:
                continue
            if cursor_key is not None and (mod, id_sort_key(oid)) <= cursor_key:
                continue
            out.append(NewOrder(oid, odate, mod))
        if len(out) >= limit:
            chunks.close()  # enough: the statement is ordered, stop reading
            break
    # The database orders by its own types; re-sort on the normalized values.
    out.sort(key=lambda o: (o.modified_at, id_sort_key(o.order_id)))
    return out[:limit]
