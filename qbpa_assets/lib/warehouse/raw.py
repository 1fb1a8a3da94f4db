"""Landing raw QuickBooks pages in DuckDB.

The client writes each page's response body to a file as it came off the wire; DuckDB parses
them here, so no Python object is ever built per entity. Each raw table keeps the envelope
columns that the flows filter on next to the untouched JSON payload.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import duckdb

# QuickBooks entity name -> raw table. Entity names are never user input: they come from here.
# quickbooks.employees holds the raw rows of the sales-rep source: Employees, or Classes when
# QBPA_SALES_REP_SOURCE=class (lib/master_data/rep_source.py).
LIST_TABLES = {
    "Customer": "quickbooks.customers",
    "Item": "quickbooks.items",
    "Vendor": "quickbooks.vendors",
    "Employee": "quickbooks.employees",
    "Class": "quickbooks.employees",
}
INVOICE_TABLE = "quickbooks.invoices"

_ENVELOPE = """
    e ->> 'Id' AS id,
    e ->> 'SyncToken' AS sync_token,
    CAST(e -> 'MetaData' ->> 'LastUpdatedTime' AS TIMESTAMPTZ) AS last_updated
"""


def _entities_sql(entity: str) -> str:
    """SELECT one row ``e`` (JSON) per entity found in the page files bound to ``?``."""
    if not entity.isalpha():
        raise ValueError(f"not a QuickBooks entity name: {entity!r}")
    return f"""
        SELECT unnest(CAST(json_extract(content, '$.QueryResponse.{entity}') AS JSON[])) AS e
        FROM read_text(?)
        WHERE json_extract(content, '$.QueryResponse.{entity}') IS NOT NULL
    """


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema and tables when missing."""
    con.execute("CREATE SCHEMA IF NOT EXISTS quickbooks")
    for table in LIST_TABLES.values():
        con.execute(
            f"""CREATE TABLE IF NOT EXISTS {table} (
                id VARCHAR PRIMARY KEY, sync_token VARCHAR, last_updated TIMESTAMPTZ,
                active BOOLEAN, payload JSON)"""
        )
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {INVOICE_TABLE} (
            id VARCHAR PRIMARY KEY, sync_token VARCHAR, last_updated TIMESTAMPTZ,
            txn_date DATE, deleted BOOLEAN, payload JSON)"""
    )


def replace_list_table(con: duckdb.DuckDBPyConnection, entity: str, files: Sequence[Path]) -> int:
    """Replace a list entity's raw table with the rows in ``files``, atomically.

    Readers see either yesterday's full table or today's, never a mix: the swap happens in one
    transaction. Returns the number of rows landed.
    """
    table = LIST_TABLES[entity]
    ensure_schema(con)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {table}")
        if files:
            con.execute(
                f"""INSERT INTO {table}
                    SELECT {_ENVELOPE}, COALESCE(CAST(e ->> 'Active' AS BOOLEAN), TRUE), e
                    FROM ({_entities_sql(entity)})""",
                [[str(f) for f in files]],
            )
        rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return rows


def upsert_invoices(
    con: duckdb.DuckDBPyConnection, files: Sequence[Path], tombstones: Sequence[dict] = ()
) -> tuple[int, int]:
    """Upsert invoices by Id, keeping the newest SyncToken; record deletions as tombstones.

    Returns (invoices upserted, tombstones recorded). Re-landing the same pages changes nothing.
    """
    ensure_schema(con)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE incoming_invoices (
                id VARCHAR, sync_token VARCHAR, last_updated TIMESTAMPTZ, txn_date DATE,
                deleted BOOLEAN, payload JSON)"""
        )
        if files:
            con.execute(
                f"""INSERT INTO incoming_invoices
                    SELECT {_ENVELOPE}, CAST(e ->> 'TxnDate' AS DATE), FALSE, e
                    FROM ({_entities_sql("Invoice")})""",
                [[str(f) for f in files]],
            )
        upserted = con.execute("SELECT count(*) FROM incoming_invoices").fetchone()[0]
        if tombstones:
            con.execute(
                f"""INSERT INTO incoming_invoices
                    SELECT {_ENVELOPE}, NULL, TRUE, e
                    FROM (SELECT unnest(CAST(? AS JSON[])) AS e)""",
                [[json.dumps(t, ensure_ascii=False) for t in tombstones]],
            )
        # A tombstone has no SyncToken: it always wins over the live row it deletes.
        con.execute(
            f"""INSERT INTO {INVOICE_TABLE}
                SELECT * FROM incoming_invoices
                QUALIFY row_number() OVER (
                    PARTITION BY id ORDER BY deleted DESC, TRY_CAST(sync_token AS BIGINT) DESC) = 1
                ON CONFLICT (id) DO UPDATE SET
                    sync_token = excluded.sync_token, last_updated = excluded.last_updated,
                    txn_date = COALESCE(excluded.txn_date, txn_date),
                    deleted = excluded.deleted,
                    payload = CASE WHEN excluded.deleted
                        THEN json_merge_patch(payload, json_object(
                            'status', 'Deleted', 'MetaData', excluded.payload -> 'MetaData'))
                        ELSE excluded.payload END
                WHERE excluded.deleted
                   OR TRY_CAST(excluded.sync_token AS BIGINT) >= TRY_CAST(sync_token AS BIGINT)"""
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return upserted, len(tombstones)


def deleted_in_window(cdc_objects: Sequence[dict], start: datetime, end: datetime) -> list[dict]:
    """The CDC tombstones whose deletion time falls in ``[start, end)``."""
    out = []
    for obj in cdc_objects:
        if obj.get("status") != "Deleted":
            continue
        stamp = (obj.get("MetaData") or {}).get("LastUpdatedTime")
        if not stamp:
            continue
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if start <= when < end:
            out.append(obj)
    return out
