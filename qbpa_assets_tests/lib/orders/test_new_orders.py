"""The new-order sensor's query through real ODBC drivers (SQLite3 and PostgreSQL Unicode)."""

from __future__ import annotations

from datetime import date, datetime

from qbpa_assets.lib.orders.mapping import load_order_mapping
from qbpa_assets.lib.orders.new_orders import fetch_new_orders
from qbpa_assets_tests.fixtures.odbc import one_line_order

T0 = datetime(2026, 11, 20, 10, 0, 0)
MAPPING = load_order_mapping()


def test_fetch_new_orders_cursor_and_ties(inventiv_odbc) -> None:
    # Three orders share one MODIFIED_AT: the ORDER_ID tie-break must not skip any of them.
    inventiv_odbc.insert_orders(
        [
            one_line_order(1, T0),
            one_line_order(2, T0),
            one_line_order(3, T0),
            one_line_order(4, datetime(2026, 11, 20, 10, 0, 1)),
            one_line_order(5, datetime(2026, 11, 19, 9, 0)),
        ]
    )
    with inventiv_odbc.db() as db:
        first = fetch_new_orders(db, MAPPING, None, None, limit=2)
        assert [o.order_id for o in first] == [5, 1]
        assert first[0].order_date == date(2026, 11, 20)
        assert first[0].modified_at == datetime(2026, 11, 19, 9, 0)
        rest = fetch_new_orders(db, MAPPING, first[-1].modified_at, first[-1].order_id, limit=10)
        assert [o.order_id for o in rest] == [2, 3, 4]
        assert fetch_new_orders(db, MAPPING, rest[-1].modified_at, rest[-1].order_id) == []
    # An edit moves the order after the cursor again.
    inventiv_odbc.update_order(2, modified_at=datetime(2026, 11, 20, 11, 0))
    with inventiv_odbc.db() as db:
        again = fetch_new_orders(db, MAPPING, rest[-1].modified_at, rest[-1].order_id)
    assert [o.order_id for o in again] == [2]
