"""The open rejects of every day: orders the ledger holds as rejected and nobody fixed yet.

A rejected order is retried on every run of its day, so it stays in the ledger as ``rejected``
until it is fixed in PocketAdvantage (then it becomes ``created``) or cancelled there. This
module lists them across all days, oldest first, so that an older day's reject stays visible
(and alerted) after later days ran clean.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from qbpa_assets.lib.orders import changes
from qbpa_assets.lib.orders.ledger import ensure_ledger

_OPEN_SQL = f"""
SELECT l.order_id, l.order_no, l.order_date, l.reasons, l.first_seen_at
FROM quickbooks.sales_orders l LEFT JOIN {changes.TABLE} c USING (order_id)
WHERE l.status = 'rejected' AND coalesce(c.action, '') NOT IN ('cancelled', 'cancel_reported')
ORDER BY l.order_date, l.order_id
"""


@dataclass(frozen=True)
class OpenReject:
    """One order waiting for a fix."""

    order_id: str
    order_no: str | None
    order_date: date | None
    reasons: tuple[str, ...]
    first_seen_at: datetime | None


def open_rejects(con: duckdb.DuckDBPyConnection) -> list[OpenReject]:
    """Every order of every day that is rejected and not cancelled, oldest day first."""
    ensure_ledger(con)
    changes.ensure_table(con)
    return [
        OpenReject(r[0], r[1], r[2], tuple(r[3] or ()), r[4])
        for r in con.execute(_OPEN_SQL).fetchall()
    ]


def fingerprint(rejects: list[OpenReject]) -> str:
    """A short hash of the open rejects and their reasons (changes when the set changes)."""
    h = hashlib.sha256()
    for r in rejects:
        h.update(f"{r.order_id}\t{'|'.join(r.reasons)}\n".encode())
    return h.hexdigest()[:16]


def rejects_table(rejects: list[OpenReject], limit: int = 100) -> list[tuple[str, ...]]:
    """Rows ``(day, order id, order no, reasons)`` for a Markdown or metadata table."""
    return [
        (
            r.order_date.isoformat() if r.order_date else "",
            r.order_id,
            r.order_no or "",
            "; ".join(r.reasons),
        )
        for r in rejects[:limit]
    ]
