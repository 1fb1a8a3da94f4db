"""The record of edits and cancellations: what changed in PocketAdvantage, what qbpa did.

``quickbooks.sales_order_changes`` keeps one row per order, its latest action: ``updated``,
``refused`` (the document was invoiced or closed), ``invalid`` (the edit fails validation),
``cancelled``, ``cancel_reported`` (``on_cancel = "report"``) or ``cancel_refused``. An action
is final for the content it was taken on: no request is repeated until the order changes again.
An applied edit moves the ledger's content hash in the same transaction, so the importer and the
next run see the order as in sync.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from qbpa_assets.lib.orders.ledger import DONE
from qbpa_assets.lib.orders.status_sql import StatusTarget
from qbpa_assets.lib.orders.values import to_text
from qbpa_assets.lib.orders.window import order_sort_key, same_content, window_orders

TABLE = "quickbooks.sales_order_changes"
# Actions that stay until the order changes again (no request is repeated for them).
FINAL_EDIT = ("refused", "invalid")
FINAL_CANCEL = ("cancelled", "cancel_reported", "cancel_refused")

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS quickbooks;
CREATE TABLE IF NOT EXISTS {TABLE} (
    order_id VARCHAR PRIMARY KEY, action VARCHAR, message VARCHAR, order_hash VARCHAR,
    source_modified_at TIMESTAMP, qbo_entity VARCHAR, qbo_id VARCHAR, sync_token VARCHAR,
    request_id VARCHAR, changed_at TIMESTAMP
);
"""


@dataclass
class Change:
    """What happened to one order's document."""

    order_id: str
    action: str  # updated | refused | invalid | failed | cancelled | cancel_reported | ...
    message: str
    qbo_id: str | None = None
    order_hash: str | None = None
    modified_at: datetime | None = None
    sync_token: str | None = None
    request_id: str | None = None


@dataclass
class Candidate:
    """An order whose document may have to change (filled in by the engine)."""

    order_id: str
    kind: str  # edit | cancel | withdraw (a reject cancelled) | reopen (a withdrawn one is back)
    qbo_id: str
    order_hash: str | None
    modified_at: datetime | None
    payload: dict[str, Any] | None = None
    doc: dict[str, Any] | None = None


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``quickbooks.sales_order_changes`` if missing."""
    con.execute(_DDL)


def cancelled_order_ids(db: Any, target: StatusTarget, start: date, end: date) -> set[str]:
    """Run ``[status] cancelled_sql`` on the Inventiv database (empty when not configured)."""
    if not target.cancelled_sql:
        return set()
    names, rows = db.fetch_all(target.cancelled_sql, [start, end])
    if "order_id" not in names:
        raise ValueError(
            f"{target.path}: [status] cancelled_sql must return a column named order_id "
            f"(got {', '.join(names)})"
        )
    i = names.index("order_id")
    return {to_text(r[i]) or "" for r in rows} - {""}


def find_candidates(
    con: duckdb.DuckDBPyConnection, start: date, end: date, cancelled: set[str], vanished: bool
) -> list[Candidate]:
    """The window's orders edited or cancelled since their document was made or changed."""
    window = window_orders(con, start, end)
    (newest_copy,) = con.execute(
        "SELECT max(copied_at) FROM inventiv_db.orders WHERE order_date >= ? AND order_date < ?",
        [start, end],
    ).fetchone()
    rows = con.execute(
        f"""SELECT l.order_id, l.qbo_id, l.order_hash, l.source_modified_at, l.updated_at,
                   c.action, c.order_hash, c.source_modified_at, l.status, c.qbo_id
            FROM quickbooks.sales_orders l LEFT JOIN {TABLE} c USING (order_id)
            WHERE l.order_date >= ? AND l.order_date < ?
              AND (l.status = 'rejected'
                   OR (list_contains(?, l.status) AND l.qbo_id IS NOT NULL))""",
        [start, end, list(DONE)],
    ).fetchall()
    out: list[Candidate] = []
    for oid, qbo_id, lhash, lmod, lupdated, action, chash, cmod, status, cqbo in rows:
        current = window.get(oid)
        # A vanished order counts only when the window was copied after the ledger row was
        # written and still holds other orders (an empty or stale copy proves nothing).
        gone = (
            current is None
            and vanished
            and newest_copy is not None
            and (lupdated is None or newest_copy > lupdated)
        )
        if status == "rejected":
            # Never in QuickBooks: a cancellation only closes the reject (no request); an order
            # that comes back is an open reject again.
            if (oid in cancelled or gone) and action not in FINAL_CANCEL:
                out.append(Candidate(oid, "withdraw", "", lhash, lmod))
            elif current is not None and oid not in cancelled and action in FINAL_CANCEL:
                out.append(Candidate(oid, "reopen", "", lhash, lmod))
            continue
        if oid in cancelled or gone:
            if action not in FINAL_CANCEL:
                out.append(Candidate(oid, "cancel", str(qbo_id), lhash, lmod))
            continue
        if action == "cancelled" and cqbo is None:
            # Withdrawn while rejected, then back and created: its cancellation no longer holds.
            out.append(Candidate(oid, "reopen", "", lhash, lmod))
            continue
        if current is None:
            continue
        # Only a change of content is an edit (a MODIFIED_AT touched alone changes nothing).
        new_hash, new_mod = current.order_hash, current.modified_at
        if same_content(lhash, new_hash):
            continue
        if action in FINAL_EDIT and chash == new_hash and cmod == new_mod:
            continue
        out.append(Candidate(oid, "edit", str(qbo_id), new_hash, new_mod))
    return sorted(out, key=lambda c: order_sort_key(c.order_id))


def forget(con: duckdb.DuckDBPyConnection, order_ids: Sequence[str]) -> None:
    """Drop the recorded change of these orders (a withdrawn reject that came back)."""
    if order_ids:
        con.execute(f"DELETE FROM {TABLE} WHERE list_contains(?, order_id)", [list(order_ids)])


def record(con: duckdb.DuckDBPyConnection, entity: str, changes: Sequence[Change]) -> None:
    """Keep each order's latest change; an applied edit moves the ledger's content hash."""
    kept = [c for c in changes if c.action != "failed"]
    if not kept:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute("BEGIN TRANSACTION")
    try:
        con.executemany(
            f"""INSERT OR REPLACE INTO {TABLE} (order_id, action, message, order_hash,
                    source_modified_at, qbo_entity, qbo_id, sync_token, request_id, changed_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    c.order_id,
                    c.action,
                    c.message,
                    c.order_hash,
                    c.modified_at,
                    entity,
                    c.qbo_id,
                    c.sync_token,
                    c.request_id,
                    now,
                )
                for c in kept
            ],
        )
        applied = [c for c in kept if c.action == "updated"]
        if applied:
            con.executemany(
                "UPDATE quickbooks.sales_orders SET order_hash = ?, source_modified_at = ?, "
                "updated_at = ? WHERE order_id = ?",
                [(c.order_hash, c.modified_at, now, c.order_id) for c in applied],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
