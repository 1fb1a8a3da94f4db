"""Each order's status for PocketAdvantage, and the outbox that gets it into the Inventiv DB.

The status of an order is derived in DuckDB SQL from three tables:

- the ledger ``quickbooks.sales_orders`` (created / adopted / rejected, with reasons);
- ``quickbooks.sales_order_status``, what QuickBooks says about the document (followup.py);
- ``quickbooks.sales_order_changes``, the edits and cancellations applied or refused (changes.py).

STATUS is one of :data:`STATUSES`: ``rejected`` (MESSAGE holds every reason), ``cancelled``
(cancelled in PocketAdvantage), ``invoiced`` (the Estimate was turned into an Invoice; its
DocNumber in INVOICE_DOC_NUMBER; an Invoice target is invoiced at once), ``closed`` (closed,
rejected, voided or deleted in QuickBooks), ``updated`` (an edit was applied) or ``created``.

The outbox is the DuckDB table ``inventiv_db.order_status`` (the asset of that key): one row
per order with a hash of its content and the hash last written to the Inventiv database. A row
whose hashes differ is pending; :func:`flush_outbox` writes the pending rows in one transaction
and marks them written only after the commit, so a failed write is simply retried by the next
run, and writing the same rows twice changes nothing (the target is upserted by ORDER_ID).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from qbpa_assets.lib.orders import changes, followup
from qbpa_assets.lib.orders.ledger import ensure_ledger
from qbpa_assets.lib.orders.status_sql import MESSAGE_MAX, StatusTarget, StatusWriteError

log = logging.getLogger(__name__)

STATUSES = ("created", "rejected", "updated", "invoiced", "closed", "cancelled")
OUTBOX = "inventiv_db.order_status"

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS inventiv_db;
CREATE TABLE IF NOT EXISTS {OUTBOX} (
    order_id VARCHAR PRIMARY KEY, order_date DATE, qbo_id VARCHAR, qbo_doc_number VARCHAR,
    status VARCHAR, message VARCHAR, invoice_doc_number VARCHAR, updated_at TIMESTAMP,
    row_hash VARCHAR, written_hash VARCHAR, written_at TIMESTAMP, attempts INTEGER DEFAULT 0,
    last_error VARCHAR
);
"""

# One row per ledger order. The CASE order is the precedence: a cancellation is what the rep
# did; then what QuickBooks says (invoiced before closed); then what qbpa did.
_STATUS_SQL = f"""
SELECT l.order_id, l.order_date, l.qbo_id, coalesce(f.doc_number, l.doc_number) AS doc,
       s.status,
       nullif(left(concat_ws('; ',
           CASE s.status
               WHEN 'rejected' THEN array_to_string(l.reasons, '; ')
               WHEN 'invoiced' THEN CASE WHEN l.qbo_entity = 'Invoice'
                   THEN 'created as an Invoice' ELSE 'invoiced as Invoice ' ||
                   coalesce(f.invoice_doc_number, f.invoice_id, '?') END
               WHEN 'closed' THEN CASE
                   WHEN f.deleted THEN l.qbo_entity || ' ' || l.qbo_id || ' deleted in QuickBooks'
                   WHEN f.voided THEN l.qbo_entity || ' ' || l.qbo_id || ' voided in QuickBooks'
                   ELSE l.qbo_entity || ' ' || l.qbo_id || ' is ' || f.txn_status
                       || ' in QuickBooks' END
           END,
           CASE WHEN s.status <> 'rejected' THEN c.message END), {MESSAGE_MAX}), '') AS message,
       CASE WHEN s.status = 'invoiced' THEN CASE WHEN l.qbo_entity = 'Invoice'
           THEN coalesce(f.doc_number, l.doc_number) ELSE f.invoice_doc_number END END AS inv
FROM quickbooks.sales_orders l
LEFT JOIN {followup.TABLE} f ON f.qbo_entity = l.qbo_entity AND f.qbo_id = l.qbo_id
LEFT JOIN {changes.TABLE} c ON c.order_id = l.order_id
CROSS JOIN LATERAL (SELECT CASE
    WHEN c.action IN ('cancelled', 'cancel_reported') THEN 'cancelled'
    WHEN l.status = 'rejected' THEN 'rejected'
    WHEN l.qbo_entity = 'Invoice' AND NOT coalesce(f.voided OR f.deleted, false) THEN 'invoiced'
    WHEN f.invoice_id IS NOT NULL OR f.txn_status = 'Converted' THEN 'invoiced'
    WHEN f.deleted OR f.voided OR f.txn_status IN ('Closed', 'Rejected') THEN 'closed'
    WHEN c.action = 'updated' THEN 'updated'
    ELSE 'created' END AS status) s
"""


@dataclass
class FlushResult:
    """What one status write did."""

    changed: int = 0  # rows whose status changed in DuckDB
    written: int = 0  # rows written into the Inventiv database
    pending: int = 0  # rows still waiting (after a failed write)
    created_target: bool = False
    error: str | None = None
    by_status: dict[str, int] = field(default_factory=dict)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the outbox and the tables the status is derived from, if missing."""
    ensure_ledger(con)
    followup.ensure_table(con)
    changes.ensure_table(con)
    con.execute(_DDL)


def refresh_outbox(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> int:
    """Recompute every order's status; rows whose content changed become pending.

    Returns:
        How many rows changed (new or different).
    """
    ensure_tables(con)
    now = now or datetime.now(UTC).replace(tzinfo=None)
    (before,) = con.execute(
        f"SELECT count(*) FROM {OUTBOX} WHERE row_hash IS DISTINCT FROM written_hash"
    ).fetchone()
    (changed,) = con.execute(
        f"""WITH s AS ({_STATUS_SQL}), h AS (
                SELECT *, md5(concat_ws(chr(31), order_id, coalesce(qbo_id, ''),
                    coalesce(doc, ''), status, coalesce(message, ''), coalesce(inv, ''))) AS rh
                FROM s)
            SELECT count(*) FROM h LEFT JOIN {OUTBOX} o USING (order_id)
            WHERE o.row_hash IS DISTINCT FROM h.rh"""
    ).fetchone()
    con.execute(
        f"""INSERT INTO {OUTBOX} (order_id, order_date, qbo_id, qbo_doc_number, status, message,
                invoice_doc_number, updated_at, row_hash)
            SELECT order_id, order_date, qbo_id, doc, status, message, inv, ?::TIMESTAMP,
                md5(concat_ws(chr(31), order_id, coalesce(qbo_id, ''), coalesce(doc, ''),
                    status, coalesce(message, ''), coalesce(inv, '')))
            FROM ({_STATUS_SQL})
            ON CONFLICT (order_id) DO UPDATE SET order_date = excluded.order_date,
                qbo_id = excluded.qbo_id, qbo_doc_number = excluded.qbo_doc_number,
                status = excluded.status, message = excluded.message,
                invoice_doc_number = excluded.invoice_doc_number,
                updated_at = excluded.updated_at, row_hash = excluded.row_hash
            WHERE {OUTBOX}.row_hash IS DISTINCT FROM excluded.row_hash""",
        [now],
    )
    log.debug("order status: %d changed, %d were pending", changed, before)
    return int(changed)


def pending_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The rows not yet written (or changed since), oldest change first."""
    ensure_tables(con)
    cur = con.execute(
        f"""SELECT order_id, qbo_id, qbo_doc_number, status, message, invoice_doc_number,
                   updated_at, row_hash
            FROM {OUTBOX} WHERE row_hash IS DISTINCT FROM written_hash
            ORDER BY updated_at, order_id"""
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def status_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Orders per status in the outbox."""
    ensure_tables(con)
    rows = con.execute(f"SELECT status, count(*) FROM {OUTBOX} GROUP BY 1 ORDER BY 1").fetchall()
    return {str(s): int(n) for s, n in rows}


def flush_outbox(
    con: duckdb.DuckDBPyConnection, db: Any, target: StatusTarget, *, logger: Any = None
) -> FlushResult:
    """Refresh the outbox and write its pending rows into the Inventiv database.

    Args:
        con: DuckDB (ledger, follow-up, changes, outbox).
        db: An ``InventivDb`` (its ``connect()`` gives the pyodbc connection).
        target: Where and how to write (``[status]`` of the order mapping).
        logger: Where to report; module logger if None.

    Returns:
        FlushResult. When the write fails the rows stay pending and ``error`` says why (the
        caller decides to fail loudly); nothing is lost.
    """
    logger = logger or log
    result = FlushResult(changed=refresh_outbox(con))
    rows = pending_rows(con)
    result.by_status = status_counts(con)
    if not rows:
        return result
    try:
        conn = db.connect()
        result.created_target = target.ensure(conn)
        target.write(conn, rows)
    except Exception as exc:  # noqa: BLE001 - any driver/connect failure keeps rows pending
        scrub = getattr(db, "_scrub", str)
        where = getattr(db, "safe_connection_string", "the Inventiv database")
        result.error = f"writing order status into {where} failed: {scrub(str(exc))}"[:2000]
        result.pending = len(rows)
        con.execute(
            f"UPDATE {OUTBOX} SET attempts = coalesce(attempts, 0) + 1, last_error = ? "
            "WHERE row_hash IS DISTINCT FROM written_hash",
            [result.error],
        )
        logger.warning(f"{result.error}; {len(rows)} status row(s) wait for the next run")
        return result
    now = datetime.now(UTC).replace(tzinfo=None)
    con.executemany(
        f"UPDATE {OUTBOX} SET written_hash = ?, written_at = ?, attempts = 0, last_error = NULL "
        "WHERE order_id = ? AND row_hash = ?",
        [(r["row_hash"], now, r["order_id"], r["row_hash"]) for r in rows],
    )
    result.written = len(rows)
    logger.info(f"wrote {len(rows)} order status row(s) into the Inventiv database")
    return result


def raise_on_error(result: FlushResult) -> None:
    """Raise :class:`StatusWriteError` when the write failed (after the rows were kept)."""
    if result.error:
        raise StatusWriteError(
            f"{result.error}. {result.pending} status row(s) are kept in DuckDB "
            f"({OUTBOX}) and written by the next run."
        )
