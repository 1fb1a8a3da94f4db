"""Daily reconciliation: the day's orders in the Inventiv database, the ledger and QuickBooks.

For a window of ORDER_DATE the orders are read from the Inventiv database with the mapping's
own ``orders_sql`` / ``lines_sql`` (so the check sees what the import sees) and compared with
the ledger ``quickbooks.sales_orders`` and with what QuickBooks holds
(``quickbooks.sales_order_status``): counts and totals per ledger status.

An order whose day was copied by a run (it is in ``inventiv_db.orders``) but that is in the
ledger neither as created/adopted nor as rejected is *stranded*: the check fails and names it.
An order entered after the last run of its day is *waiting* (reported, not a failure).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb

from qbpa_assets.lib.orders import followup
from qbpa_assets.lib.orders.ledger import ensure_ledger
from qbpa_assets.lib.orders.mapping import OrderMapping
from qbpa_assets.lib.orders.tables import ensure_tables
from qbpa_assets.lib.orders.values import to_text

SETTLED = ("created", "adopted", "rejected")
CENT = Decimal("0.01")


@dataclass
class StatusLine:
    """Orders of one ledger status: how many, their Inventiv total, QuickBooks' total."""

    status: str
    orders: int = 0
    inventiv_total: Decimal = Decimal(0)
    quickbooks_orders: int = 0
    quickbooks_total: Decimal = Decimal(0)


@dataclass
class Reconciliation:
    """The comparison for one window."""

    start: date
    end: date
    inventiv_orders: int = 0
    inventiv_total: Decimal = Decimal(0)
    lines: dict[str, StatusLine] = field(default_factory=dict)
    stranded: list[tuple[str, str]] = field(default_factory=list)  # (order id, why)
    waiting: list[str] = field(default_factory=list)
    missing_in_quickbooks: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No stranded order."""
        return not self.stranded

    def table(self) -> list[tuple[str, int, str, int, str]]:
        """Rows ``(status, orders, Inventiv total, QuickBooks documents, QuickBooks total)``."""
        return [
            (
                s.status,
                s.orders,
                str(s.inventiv_total.quantize(CENT)),
                s.quickbooks_orders,
                str(s.quickbooks_total.quantize(CENT)),
            )
            for s in sorted(self.lines.values(), key=lambda s: s.status)
        ]


def _column(names: list[str], name: str, source: str) -> int:
    if name not in names:
        raise ValueError(f"{source} must return a column named {name} (got {', '.join(names)})")
    return names.index(name)


def _amount(qty: Any, price: Any) -> Decimal:
    try:
        return (Decimal(str(qty)) * Decimal(str(price))).quantize(CENT)
    except (ArithmeticError, ValueError):
        return Decimal(0)


def inventiv_totals(db: Any, mapping: OrderMapping, start: date, end: date) -> dict[str, Decimal]:
    """order_id → total of its lines, straight from the Inventiv database."""
    names, rows = db.fetch_all(mapping.orders_sql, [start, end])
    i = _column(names, "order_id", f"{mapping.path}: [source] orders_sql")
    totals: dict[str, Decimal] = {to_text(r[i]) or "": Decimal(0) for r in rows}
    names, rows = db.fetch_all(mapping.lines_sql, [start, end])
    source = f"{mapping.path}: [source] lines_sql"
    oi, qi, pi = (_column(names, n, source) for n in ("order_id", "qty", "unit_price"))
    for row in rows:
        order_id = to_text(row[oi]) or ""
        if order_id in totals:
            totals[order_id] += _amount(row[qi], row[pi])
    return totals


def reconcile(
    con: duckdb.DuckDBPyConnection, db: Any, mapping: OrderMapping, start: date, end: date
) -> Reconciliation:
    """Compare the window's orders in the Inventiv database with the ledger and QuickBooks.

    Args:
        con: DuckDB (copied orders, ledger, followed documents).
        db: An ``InventivDb``.
        mapping: The order mapping (its source SQL is run).
        start: First day (inclusive).
        end: Last day (exclusive).

    Returns:
        Reconciliation; ``passed`` is False when an order is stranded.
    """
    ensure_tables(con)
    ensure_ledger(con)
    followup.ensure_table(con)
    result = Reconciliation(start, end)
    totals = inventiv_totals(db, mapping, start, end)
    result.inventiv_orders = len(totals)
    result.inventiv_total = sum(totals.values(), Decimal(0))
    copied = {
        r[0]
        for r in con.execute(
            "SELECT order_id FROM inventiv_db.orders WHERE order_date >= ? AND order_date < ?",
            [start, end],
        ).fetchall()
    }
    ledger = {
        r[0]: r[1:]
        for r in con.execute(
            f"""SELECT l.order_id, l.status, f.qbo_id, f.total_amt, coalesce(f.deleted, false)
                FROM quickbooks.sales_orders l
                LEFT JOIN {followup.TABLE} f ON f.qbo_entity = l.qbo_entity
                    AND f.qbo_id = l.qbo_id
                WHERE list_contains(?, l.order_id)""",
            [sorted(totals)],
        ).fetchall()
    }
    lines: dict[str, StatusLine] = defaultdict(lambda: StatusLine(""))
    for order_id in sorted(totals):
        status, qbo_id, qbo_total, deleted = ledger.get(order_id, (None, None, None, False))
        if status not in SETTLED:
            if order_id in copied:
                why = "not in the ledger" if status is None else f"ledger status {status!r}"
                result.stranded.append((order_id, f"{why} after its day's run"))
            else:
                result.waiting.append(order_id)
            key = "waiting" if order_id not in copied else "stranded"
        else:
            key = status
        line = lines[key]
        line.status = key
        line.orders += 1
        line.inventiv_total += totals[order_id]
        if status in ("created", "adopted"):
            if qbo_id is None or deleted:
                result.missing_in_quickbooks.append(order_id)
            else:
                line.quickbooks_orders += 1
                line.quickbooks_total += Decimal(str(qbo_total or 0))
    result.lines = dict(lines)
    return result
