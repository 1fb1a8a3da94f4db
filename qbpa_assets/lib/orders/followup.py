"""Read back the QuickBooks documents qbpa created: status, linked invoice, SyncToken.

``quickbooks.sales_order_status`` holds one row per document of the ledger
(``quickbooks.sales_orders``): its ``TxnStatus`` (Pending, Accepted, Closed, Rejected,
Converted), the Invoice it is linked to (``LinkedTxn``) with that invoice's DocNumber, the
``SyncToken`` and ``MetaData.LastUpdatedTime``.

It is read incrementally, so a night costs a few requests, not one per order:

- one paged query ``MetaData.LastUpdatedTime >= cursor`` (1000 rows a page) finds every document
  of the target entity changed since the last read, kept when it is one of the ledger's;
- documents of the ledger never read yet (created before the first follow-up) are read once
  by Id, 100 per query;
- the DocNumbers of newly linked invoices are looked up by Id, 100 per query;
- within CDC's 30-day reach, one CDC request reports the documents deleted in QuickBooks.

The cursor (``quickbooks.sales_order_status_cursor``) is the newest ``LastUpdatedTime`` this
follow-up has read, minus a small overlap (a document read twice is simply upserted again).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

log = logging.getLogger(__name__)

TABLE = "quickbooks.sales_order_status"
CURSORS = "quickbooks.sales_order_status_cursor"
PAGE_SIZE = 1000
ID_CHUNK = 100
OVERLAP = timedelta(minutes=10)
CDC_REACH = timedelta(days=29)  # QuickBooks' CDC reaches back 30 days; keep a margin

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS quickbooks;
CREATE TABLE IF NOT EXISTS {TABLE} (
    qbo_entity VARCHAR, qbo_id VARCHAR, doc_number VARCHAR, txn_status VARCHAR,
    invoice_id VARCHAR, invoice_doc_number VARCHAR, sync_token VARCHAR, total_amt DECIMAL(18,2),
    voided BOOLEAN, deleted BOOLEAN, last_updated TIMESTAMP, read_at TIMESTAMP,
    PRIMARY KEY (qbo_entity, qbo_id)
);
CREATE TABLE IF NOT EXISTS {CURSORS} (qbo_entity VARCHAR PRIMARY KEY, cursor TIMESTAMP);
"""
COLUMNS = (
    "qbo_entity",
    "qbo_id",
    "doc_number",
    "txn_status",
    "invoice_id",
    "invoice_doc_number",
    "sync_token",
    "total_amt",
    "voided",
    "deleted",
    "last_updated",
)


@dataclass
class FollowResult:
    """What one follow-up read."""

    entity: str
    since: datetime | None = None
    changed: int = 0
    seeded: int = 0
    deleted: int = 0
    invoices_looked_up: int = 0
    api_calls: int = 0


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``quickbooks.sales_order_status`` if missing."""
    con.execute(_DDL)


def qbo_quote(value: str) -> str:
    """A string literal for the QuickBooks query language (backslash escapes a quote)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def qbo_time(value: datetime) -> str:
    """A naive-UTC or aware datetime as the ISO text QuickBooks queries compare."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_qbo_time(text: Any) -> datetime | None:
    """``MetaData.LastUpdatedTime`` (``2026-11-20T09:00:00-08:00``) as naive UTC."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def linked_invoice_id(doc: dict[str, Any]) -> str | None:
    """The Id of the Invoice a document is linked to (``LinkedTxn`` of type Invoice)."""
    for link in doc.get("LinkedTxn") or []:
        if str(link.get("TxnType", "")).lower() == "invoice" and link.get("TxnId") is not None:
            return str(link["TxnId"])
    return None


def is_voided(doc: dict[str, Any]) -> bool:
    """A voided Invoice/SalesReceipt: QuickBooks zeroes it and notes ``Voided``."""
    return str(doc.get("PrivateNote") or "").startswith("Voided") and not float(
        doc.get("TotalAmt") or 0
    )


def _row(entity: str, doc: dict[str, Any], invoice_numbers: dict[str, str]) -> tuple:
    invoice_id = linked_invoice_id(doc)
    total = doc.get("TotalAmt")
    return (
        entity,
        str(doc.get("Id")),
        doc.get("DocNumber"),
        doc.get("TxnStatus"),
        invoice_id,
        invoice_numbers.get(invoice_id or ""),
        None if doc.get("SyncToken") is None else str(doc.get("SyncToken")),
        None if total is None else str(total),
        is_voided(doc),
        False,
        parse_qbo_time((doc.get("MetaData") or {}).get("LastUpdatedTime")),
    )


def store_documents(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    docs: Sequence[dict[str, Any]],
    invoice_numbers: dict[str, str] | None = None,
) -> int:
    """Upsert documents (as QuickBooks returned them) into ``quickbooks.sales_order_status``.

    A known invoice DocNumber is kept when the caller does not know it.
    """
    ensure_table(con)
    rows = [_row(entity, d, invoice_numbers or {}) for d in docs if d.get("Id") is not None]
    if not rows:
        return 0
    now = datetime.now(UTC).replace(tzinfo=None)
    placeholders = ", ".join("?" for _ in COLUMNS)
    updates = ", ".join(
        f"{c} = excluded.{c}"
        for c in COLUMNS
        if c not in ("qbo_entity", "qbo_id", "invoice_doc_number")
    )
    con.executemany(
        f"""INSERT INTO {TABLE} ({", ".join(COLUMNS)}, read_at) VALUES ({placeholders}, ?)
            ON CONFLICT (qbo_entity, qbo_id) DO UPDATE SET {updates},
            invoice_doc_number = CASE
                WHEN excluded.invoice_id IS DISTINCT FROM {TABLE}.invoice_id
                    THEN excluded.invoice_doc_number
                ELSE coalesce(excluded.invoice_doc_number, {TABLE}.invoice_doc_number) END,
            read_at = excluded.read_at""",
        [(*r, now) for r in rows],
    )
    return len(rows)


def mark_deleted(con: duckdb.DuckDBPyConnection, entity: str, ids: Sequence[str]) -> int:
    """Record documents deleted in QuickBooks (a row is added for one never read)."""
    if not ids:
        return 0
    now = datetime.now(UTC).replace(tzinfo=None)
    con.executemany(
        f"""INSERT INTO {TABLE} (qbo_entity, qbo_id, voided, deleted, read_at)
            VALUES (?, ?, false, true, ?)
            ON CONFLICT (qbo_entity, qbo_id)
            DO UPDATE SET deleted = true, read_at = excluded.read_at""",
        [(entity, i, now) for i in sorted(set(ids))],
    )
    return len(set(ids))


def _chunks(values: Sequence[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(values), size):
        yield list(values[i : i + size])


def _ledger_ids(con: duckdb.DuckDBPyConnection, entity: str) -> set[str]:
    rows = con.execute(
        "SELECT qbo_id FROM quickbooks.sales_orders WHERE qbo_entity = ? AND qbo_id IS NOT NULL "
        "AND status IN ('created', 'adopted')",
        [entity],
    ).fetchall()
    return {str(r[0]) for r in rows}


def _read_by_ids(client: Any, entity: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for chunk in _chunks(sorted(ids), ID_CHUNK):
        statement = (
            f"select * from {entity} where Id in ({', '.join(qbo_quote(i) for i in chunk)}) "
            f"MAXRESULTS {PAGE_SIZE}"
        )
        docs.extend(client.query(statement).get(entity) or [])
    return docs


def read_documents(client: Any, entity: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Read documents by Id (100 per query); Id → document (missing ones are absent)."""
    return {str(d.get("Id")): d for d in _read_by_ids(client, entity, ids)}


def _changed_since(client: Any, entity: str, since: datetime) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    start = 1
    while True:
        statement = (
            f"select * from {entity} where MetaData.LastUpdatedTime >= {qbo_quote(qbo_time(since))}"
            f" ORDERBY Id STARTPOSITION {start} MAXRESULTS {PAGE_SIZE}"
        )
        page = client.query(statement).get(entity) or []
        docs.extend(page)
        if len(page) < PAGE_SIZE:
            return docs
        start += PAGE_SIZE


def invoice_numbers(client: Any, invoice_ids: Iterable[str]) -> dict[str, str]:
    """Invoice Id → DocNumber (100 Ids per query)."""
    out: dict[str, str] = {}
    for chunk in _chunks(sorted(set(invoice_ids)), ID_CHUNK):
        statement = (
            f"select Id, DocNumber from Invoice where Id in "
            f"({', '.join(qbo_quote(i) for i in chunk)}) MAXRESULTS {PAGE_SIZE}"
        )
        for doc in client.query(statement).get("Invoice") or []:
            out[str(doc.get("Id"))] = str(doc.get("DocNumber") or "")
    return out


def _calls(client: Any) -> int:
    return int((getattr(client, "stats", {}) or {}).get("requests", 0))


def follow_documents(
    con: duckdb.DuckDBPyConnection,
    client: Any,
    entity: str = "Estimate",
    *,
    now: datetime | None = None,
    logger: Any = None,
) -> FollowResult:
    """Bring ``quickbooks.sales_order_status`` up to date for the ledger's documents.

    Args:
        con: DuckDB holding the ledger ``quickbooks.sales_orders``.
        client: A ``QboClient`` (``query``, ``cdc``, ``stats``).
        entity: The sales-order entity (``Estimate``, ``Invoice`` or ``SalesReceipt``).
        now: The current time (naive UTC), for the CDC reach; default the clock.
        logger: Where to report (``context.log``); module logger if None.

    Returns:
        FollowResult with what was read and how many requests it took.
    """
    logger = logger or log
    ensure_table(con)
    result = FollowResult(entity)
    calls = _calls(client)
    ours = _ledger_ids(con, entity)
    if not ours:
        return result
    # qbo_id → the linked invoice whose DocNumber is known already.
    known = {
        str(r[0]): r[1] if r[2] is not None else None
        for r in con.execute(
            f"SELECT qbo_id, invoice_id, invoice_doc_number FROM {TABLE} WHERE qbo_entity = ?",
            [entity],
        ).fetchall()
    }
    row = con.execute(f"SELECT cursor FROM {CURSORS} WHERE qbo_entity = ?", [entity]).fetchone()
    cursor = row[0] if row else None
    seen: list[datetime | None] = [cursor]
    docs: dict[str, dict[str, Any]] = {}
    if cursor is not None:
        result.since = cursor - OVERLAP
        for doc in _changed_since(client, entity, result.since):
            seen.append(parse_qbo_time((doc.get("MetaData") or {}).get("LastUpdatedTime")))
            if str(doc.get("Id")) in ours:
                docs[str(doc["Id"])] = doc
    unread = sorted(ours - set(known) - set(docs))
    for doc in _read_by_ids(client, entity, unread):
        seen.append(parse_qbo_time((doc.get("MetaData") or {}).get("LastUpdatedTime")))
        docs[str(doc["Id"])] = doc
    result.seeded = len(unread)
    now = now or datetime.now(UTC).replace(tzinfo=None)
    # A document of the ledger that QuickBooks no longer returns was deleted there.
    missing = [i for i in unread if i not in docs]
    result.changed = len(docs)
    linked = {
        inv
        for doc in docs.values()
        if (inv := linked_invoice_id(doc)) is not None and inv != known.get(str(doc["Id"]))
    }
    numbers = invoice_numbers(client, linked) if linked else {}
    result.invoices_looked_up = len(linked)
    store_documents(con, entity, list(docs.values()), numbers)
    if result.since is not None and result.since > now - CDC_REACH:
        missing += [
            str(t.get("Id"))
            for t in client.cdc([entity], result.since).get(entity, [])
            if str(t.get("status", "")).lower() == "deleted" and str(t.get("Id")) in ours
        ]
    result.deleted = mark_deleted(con, entity, missing)
    # The cursor moves only with what this query saw: documents stored by others (edits.py)
    # must not move it past changes this follow-up has not read yet.
    newest = max((t for t in seen if t is not None), default=None)
    if newest is not None:
        con.execute(
            f"INSERT OR REPLACE INTO {CURSORS} (qbo_entity, cursor) VALUES (?, ?)",
            [entity, newest],
        )
    result.api_calls = _calls(client) - calls
    logger.info(
        f"followed {entity}s: {result.changed} read ({result.seeded} for the first time), "
        f"{result.deleted} deleted, {result.api_calls} request(s)"
    )
    return result
