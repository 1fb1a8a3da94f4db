"""Landing raw QuickBooks pages in DuckDB: the one schema of the ``quickbooks.*`` raw tables.

:data:`RAW_TABLES_DDL` is the only definition of the raw tables (the staging and master-data
code create them through :func:`ensure_schema`, never with their own DDL). Each raw table keeps
the envelope columns that the flows filter on next to the untouched JSON payload.

The client writes each page's response body to a file as it came off the wire; DuckDB parses
them here, so no Python object is ever built per entity. Where DuckDB loads a page it also
checks it: a page holding a ``Fault`` (a 200 can carry one), or whose row count differs from
the ``maxResults`` QuickBooks reported, fails the load naming the file.

Pages are loaded in batches of :data:`PAGES_PER_STATEMENT`. A list table is replaced in one
transaction (readers see yesterday's table or today's, never a mix). Invoices go in one
committed batch at a time (:class:`InvoiceLoad`, fed while the next pages download). A batch's
rows whose Id is not stored yet (a first load, a backfill: all of them) are inserted straight
from the pages, one ``INSERT … WHERE NOT EXISTS``; when some Id was stored already, that batch
and the ones after it are merged set-based: a temporary table of the batch's rows unlike their
stored version, a ``DELETE`` of the stored rows they supersede, one ``INSERT``. Not ``INSERT …
ON CONFLICT``: DuckDB keeps an upsert's rows in memory until commit (~4 KB per invoice) and
logs them to the WAL, so every commit paid a checkpoint that rewrote the growing table. A batch
holds more rows than a DuckDB row group (122,880), so its ``INSERT`` is written straight to the
database file. Both ways are idempotent, so a load stopped half-way leaves only newest versions
and a re-run completes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import duckdb

from qbpa_assets.lib.quickbooks.paging import MAX_RESULTS_RE, PAGE_TAIL, max_results

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

# Payloads are kept zstd-compressed: DuckDB's automatic choice for these long JSON texts stores
# 200k invoices in ~4x the bytes and writes them ~1.6x slower; zstd reads back as fast.
_ZSTD = " USING COMPRESSION zstd"
_PAYLOAD = "payload JSON" + _ZSTD
_LIST_COLUMNS = (
    "id VARCHAR PRIMARY KEY, sync_token VARCHAR, last_updated TIMESTAMPTZ, active BOOLEAN, "
    + _PAYLOAD
)
_INVOICE_COLUMNS = (
    "id VARCHAR PRIMARY KEY, sync_token VARCHAR, last_updated TIMESTAMPTZ, txn_date DATE, "
    "deleted BOOLEAN, " + _PAYLOAD
)
#: The raw tables, in one place: list entities (active flag) and invoices (tombstones).
RAW_TABLES_DDL = (
    "CREATE SCHEMA IF NOT EXISTS quickbooks;\n"
    + "".join(
        f"CREATE TABLE IF NOT EXISTS {table} ({_LIST_COLUMNS});\n"
        for table in dict.fromkeys(LIST_TABLES.values())
    )
    + f"CREATE TABLE IF NOT EXISTS {INVOICE_TABLE} ({_INVOICE_COLUMNS});\n"
)

#: Pages (of ≤ 1000 entities) per INSERT and per committed invoice batch (≈ 500 MB of JSON,
#: which DuckDB spills under its memory limit): more rows than a row group, so that a batch is
#: written to the database file directly, not through the WAL and a checkpoint per commit.
PAGES_PER_STATEMENT = 200
# The page's closing maxResults, read in SQL with the client's pattern (it holds no quote).
_MAX_RESULTS_SQL = MAX_RESULTS_RE.pattern.decode()

_ENVELOPE = """
    e ->> 'Id' AS id,
    e ->> 'SyncToken' AS sync_token,
    CAST(e -> 'MetaData' ->> 'LastUpdatedTime' AS TIMESTAMPTZ) AS last_updated
"""
# The same envelope from the fields ``f`` of :func:`_fields_sql` (each row parsed once).
_FIELDS = "f[1] AS id, f[2] AS sync_token, CAST(f[3] AS TIMESTAMPTZ) AS last_updated"
_LIST_ROW = f"{_FIELDS}, COALESCE(CAST(f[4] AS BOOLEAN), TRUE) AS active, e AS payload"
_INVOICE_ROW = f"{_FIELDS}, CAST(f[4] AS DATE) AS txn_date, FALSE AS deleted, e AS payload"
# What DuckDB says when one statement carries an Id twice (PRIMARY KEY, ON CONFLICT).
_REPEATED_ID = re.compile(r"(?i)duplicate key|same row twice|update the same row")
# The batch of invoices being merged (a temporary table of this connection). Among rows of
# one Id in a batch the newest SyncToken wins (a row can appear on two pages when rows were
# added while paging).
_BATCH = "temp.qbpa_invoice_batch"


def _entities_sql(entity: str) -> str:
    """SELECT one row ``e`` (JSON) per entity in the page files bound to ``?``, checked.

    Each page is parsed once, for its rows; its ``maxResults`` is read from its last bytes (as
    :func:`page_rows` does). Only a page without one (an empty page, or a ``Fault``) is parsed
    again, for its ``Fault``.
    """
    if not entity.isalpha():
        raise ValueError(f"not a QuickBooks entity name: {entity!r}")
    return f"""
        SELECT unnest(CASE
            WHEN m IS NULL AND json_extract(content, '$.Fault') IS NOT NULL
                THEN error('QuickBooks page ' || filename || ' holds a Fault: '
                           || json_extract(content, '$.Fault'))
            WHEN len(a) <> COALESCE(m, len(a))
                THEN error('QuickBooks page ' || filename || ' holds ' || len(a)
                           || ' rows, maxResults says ' || m)
            ELSE a END) AS e
        FROM (SELECT filename, content,
                     json_extract(content, '$.QueryResponse.{entity}[*]') AS a,
                     TRY_CAST(regexp_extract(right(content, {PAGE_TAIL}),
                                             '{_MAX_RESULTS_SQL}', 1) AS BIGINT) AS m
              FROM read_text(?))
    """


def _fields_sql(entity: str, fourth: str) -> str:
    """SELECT each entity ``e`` of :func:`_entities_sql` with its envelope fields ``f``.

    ``f`` holds Id, SyncToken, LastUpdatedTime and ``fourth`` as text, read in one pass over
    the row's JSON (``e ->> 'Id'`` and the like would parse the row once per field).
    """
    paths = f"['$.Id', '$.SyncToken', '$.MetaData.LastUpdatedTime', '$.{fourth}']"
    return f"SELECT e, json_extract_string(e, {paths}) AS f FROM ({_entities_sql(entity)})"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema and tables when missing (:data:`RAW_TABLES_DDL`).

    A database file written in an older storage format (``storage_compatibility_version``
    before zstd) refuses the compression clause, even for a table that exists: there the
    tables are created, or kept, with DuckDB's automatic compression.
    """
    try:
        con.execute(RAW_TABLES_DDL)
    except duckdb.BinderException as exc:
        if "compress" not in str(exc).lower():
            raise
        con.execute(RAW_TABLES_DDL.replace(_ZSTD, ""))


def _batches(files: Sequence[Path]) -> list[list[str]]:
    names = [str(f) for f in files]
    return [names[i : i + PAGES_PER_STATEMENT] for i in range(0, len(names), PAGES_PER_STATEMENT)]


def _in_transaction(con: duckdb.DuckDBPyConnection, work) -> object:
    con.execute("BEGIN TRANSACTION")
    try:
        result = work()
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return result


def replace_list_table(con: duckdb.DuckDBPyConnection, entity: str, files: Sequence[Path]) -> int:
    """Replace a list entity's raw table with the rows in ``files``, atomically.

    Readers see either yesterday's full table or today's, never a mix: the swap happens in one
    transaction. Returns the number of rows landed.
    """
    table = LIST_TABLES[entity]
    ensure_schema(con)

    def work(dedup: bool) -> int:
        con.execute(f"DELETE FROM {table}")
        for batch in _batches(files):
            if dedup:  # INSERT OR REPLACE: a row repeated on a later batch replaces itself
                sql = f"""INSERT OR REPLACE INTO {table}
                    SELECT {_LIST_ROW} FROM ({_fields_sql(entity, "Active")})
                    QUALIFY row_number() OVER (
                        PARTITION BY id ORDER BY TRY_CAST(sync_token AS BIGINT) DESC) = 1"""
            else:
                sql = (
                    f"INSERT INTO {table} SELECT {_LIST_ROW} FROM ({_fields_sql(entity, 'Active')})"
                )
            con.execute(sql, [batch])
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    return _with_dedup_fallback(con, work)


def _with_dedup_fallback(con: duckdb.DuckDBPyConnection, work) -> object:
    """Run ``work(dedup=False)`` in a transaction; on a repeated Id, redo it with ``dedup``.

    A row appears on two pages only when rows were added while paging (the pages are ``ORDERBY
    Id``): the common case pays for no de-duplication window.
    """
    try:
        return _in_transaction(con, lambda: work(False))
    except (duckdb.ConstraintException, duckdb.InvalidInputException) as exc:
        if not _REPEATED_ID.search(str(exc)):
            raise
    return _in_transaction(con, lambda: work(True))


# Keep the stored row unless the incoming one is as new or newer; a tombstone always applies
# and keeps the last known payload, marked deleted.
_UPSERT_TAIL = """
    ON CONFLICT (id) DO UPDATE SET
        sync_token = excluded.sync_token, last_updated = excluded.last_updated,
        txn_date = COALESCE(excluded.txn_date, txn_date),
        deleted = excluded.deleted,
        payload = CASE WHEN excluded.deleted
            THEN json_merge_patch(payload, json_object(
                'status', 'Deleted', 'MetaData', excluded.payload -> 'MetaData'))
            ELSE excluded.payload END
    WHERE excluded.deleted
       OR TRY_CAST(excluded.sync_token AS BIGINT) >= TRY_CAST(sync_token AS BIGINT)
"""


def upsert_invoices(
    con: duckdb.DuckDBPyConnection, files: Sequence[Path], tombstones: Sequence[dict] = ()
) -> tuple[int, int]:
    """Upsert invoices by Id, keeping the newest SyncToken; record deletions as tombstones.

    Returns (invoices in the pages, tombstones recorded). Re-landing the same pages changes
    nothing (a stored row of the same SyncToken and payload is left in place). The pages go in
    batch by batch, each batch merged and committed: memory stays bounded by one batch whatever
    the window's size. Tombstones go last, in their own transaction (an upsert: they are few).
    :class:`InvoiceLoad` does the same with pages handed over as they arrive.
    """
    load = InvoiceLoad(con)
    load.add(files)
    return load.finish(tombstones)


class InvoiceLoad:
    """Invoices landed batch by batch while their pages are still being fetched.

    ``add`` takes page files in any order and lands them in committed batches of
    :data:`PAGES_PER_STATEMENT` (hand it that many at a time, e.g. as
    ``QboClient.extract_pages(..., on_pages=load.add)``); ``finish`` records the tombstones and
    returns what :func:`upsert_invoices` returns. A load stopped half-way keeps the batches
    committed so far: only newest versions, completed by a re-run.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        ensure_schema(con)
        self._con = con
        self._rows = f"SELECT {_INVOICE_ROW} FROM ({_fields_sql('Invoice', 'TxnDate')})"
        self._merging = False  # once a batch held stored Ids, the next ones are merged at once
        self.rows = 0

    def add(self, files: Sequence[Path]) -> None:
        """Land ``files`` (raw page bodies), one committed batch at a time."""
        try:
            for batch in _batches(files):
                expected = sum(page_rows(Path(f)) for f in batch)
                # An Id twice in the batch (rows added while paging) fails the insert: merge.
                _with_dedup_fallback(
                    self._con,
                    lambda dedup, b=batch, n=expected: (
                        self._merge(b) if dedup else self._land(b, n)
                    ),
                )
                self.rows += expected
        finally:
            self._con.execute(f"DROP TABLE IF EXISTS {_BATCH}")

    def _land(self, batch: list[str], expected: int) -> None:
        # The batch's rows whose Id is not stored go straight from the pages to the table (a
        # first load, a backfill: every row). Only when some Id was stored already is the batch
        # merged as well; the rows just inserted are then the stored version and stay.
        if self._merging:
            return self._merge(batch)
        inserted = self._con.execute(
            f"""INSERT INTO {INVOICE_TABLE} SELECT * FROM ({self._rows}) AS b
                WHERE NOT EXISTS (SELECT 1 FROM {INVOICE_TABLE} AS t WHERE t.id = b.id)""",
            [batch],
        ).fetchone()[0]
        if inserted != expected:
            self._merging = True
            self._merge(batch)

    def _merge(self, batch: list[str]) -> None:
        # The batch's rows unlike their stored version, newest per Id; then the stored rows they
        # supersede are dropped and the rows that no stored row beats are inserted.
        con = self._con
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_BATCH} AS SELECT b.* FROM ({self._rows}) AS b
                LEFT JOIN {INVOICE_TABLE} AS t ON t.id = b.id
                WHERE t.id IS NULL OR t.sync_token IS DISTINCT FROM b.sync_token
                   OR CAST(t.payload AS VARCHAR) <> CAST(b.payload AS VARCHAR)""",
            [batch],
        )
        # A row appears on two pages only when rows were added while paging: dedup then only.
        if con.execute(f"SELECT count(*) <> count(DISTINCT id) FROM {_BATCH}").fetchone()[0]:
            con.execute(
                f"""DELETE FROM {_BATCH} WHERE rowid NOT IN (
                    SELECT arg_max(rowid, COALESCE(TRY_CAST(sync_token AS BIGINT), -1))
                    FROM {_BATCH} GROUP BY id)"""
            )
        con.execute(
            f"""DELETE FROM {INVOICE_TABLE} AS t USING {_BATCH} AS b
                WHERE t.id = b.id
                  AND TRY_CAST(b.sync_token AS BIGINT) >= TRY_CAST(t.sync_token AS BIGINT)"""
        )
        con.execute(
            f"""INSERT INTO {INVOICE_TABLE} SELECT * FROM {_BATCH} AS b
                WHERE NOT EXISTS (SELECT 1 FROM {INVOICE_TABLE} AS t WHERE t.id = b.id)"""
        )

    def finish(self, tombstones: Sequence[dict] = ()) -> tuple[int, int]:
        """Record ``tombstones`` (one transaction); return (invoices landed, tombstones)."""
        if tombstones:
            _in_transaction(
                self._con,
                lambda: self._con.execute(
                    f"""INSERT INTO {INVOICE_TABLE}
                        SELECT {_ENVELOPE}, NULL, TRUE, e
                        FROM (SELECT unnest(CAST(? AS JSON[])) AS e)
                        QUALIFY row_number() OVER (PARTITION BY id) = 1
                        {_UPSERT_TAIL}""",
                    [[json.dumps(t, ensure_ascii=False) for t in tombstones]],
                ),
            )
        return self.rows, len(tombstones)


def page_rows(path: Path) -> int:
    """Rows of a page as QuickBooks counted them: the ``maxResults`` that closes the page.

    Read from the file's tail only; the load above has checked it against the rows themselves.
    """
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - PAGE_TAIL))
        return max_results(fh.read()) or 0


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
