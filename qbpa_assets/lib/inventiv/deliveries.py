"""The record of every file delivered to the Inventiv FTP, and the dated local copies.

Each successful upload of a ``.fil`` file is one row of the DuckDB table
``inventiv_ftp.deliveries``: the file, when it was delivered, the windows of data it covers
(invoice files; NULL for the full master-data files), its digest and size, where it went, and
the dated copy kept under ``QBPA_DATA_DIR/exports/history/<YYYY-MM-DD>/`` so that any day's
file can be re-sent. The invoice flow reads the table to know what PocketAdvantage has not
received yet (:mod:`qbpa_assets.lib.invoices.coverage`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from qbpa_assets.lib.warehouse.tables import ensure_schema

TABLE = "inventiv_ftp.deliveries"

_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    asset VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    delivered_at TIMESTAMPTZ NOT NULL,
    window_start TIMESTAMPTZ,
    window_end TIMESTAMPTZ,
    intervals VARCHAR,
    rows BIGINT,
    bytes BIGINT,
    sha256 VARCHAR,
    remote_path VARCHAR,
    history_path VARCHAR,
    remote_history_path VARCHAR,
    run_id VARCHAR,
    partition VARCHAR
)
"""

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Delivery:
    """One delivered file.

    Attributes:
        asset: The asset that delivered it, e.g. ``inventiv_ftp/invoice_fil``.
        file_name: The name on the FTP, e.g. ``invoice.fil`` (a layout may rename it).
        delivered_at: When the upload finished (UTC).
        intervals: The ``[start, end)`` windows of data the file covers (empty: the whole table).
        rows: Data rows in the file.
        bytes: Size of the file.
        sha256: Digest of the file.
        remote_path: Where it was uploaded.
        history_path: The dated local copy.
        remote_history_path: The dated copy on the FTP, when a history folder is configured.
        run_id: The Dagster run that delivered it.
        partition: The partition (or range) of that run.
    """

    asset: str
    file_name: str
    delivered_at: datetime
    intervals: tuple[Interval, ...] = ()
    rows: int | None = None
    bytes: int | None = None
    sha256: str | None = None
    remote_path: str | None = None
    history_path: str | None = None
    remote_history_path: str | None = None
    run_id: str | None = None
    partition: str | None = None

    @property
    def window(self) -> Interval | None:
        """The hull of :attr:`intervals` (first start, last end), or None for a full file."""
        if not self.intervals:
            return None
        return min(i[0] for i in self.intervals), max(i[1] for i in self.intervals)


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``inventiv_ftp.deliveries`` when missing."""
    ensure_schema(con, "inventiv_ftp")
    con.execute(_DDL)


def _encode(intervals: Sequence[Interval]) -> str:
    return json.dumps([[s.isoformat(), e.isoformat()] for s, e in intervals])


def _decode(text: str | None) -> tuple[Interval, ...]:
    if not text:
        return ()
    return tuple(
        (datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in json.loads(text)
    )


def record(con: duckdb.DuckDBPyConnection, delivery: Delivery) -> None:
    """Append ``delivery`` to the table."""
    ensure_table(con)
    window = delivery.window
    con.execute(
        f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            delivery.asset,
            delivery.file_name,
            delivery.delivered_at,
            window[0] if window else None,
            window[1] if window else None,
            _encode(delivery.intervals) if delivery.intervals else None,
            delivery.rows,
            delivery.bytes,
            delivery.sha256,
            delivery.remote_path,
            delivery.history_path,
            delivery.remote_history_path,
            delivery.run_id,
            delivery.partition,
        ],
    )


def deliveries(
    con: duckdb.DuckDBPyConnection, asset: str, since: datetime | None = None
) -> list[Delivery]:
    """The deliveries of ``asset`` (those at or after ``since``), oldest first."""
    ensure_table(con)
    rows = con.execute(
        f"""SELECT asset, file_name, delivered_at, intervals, rows, bytes, sha256, remote_path,
                   history_path, remote_history_path, run_id, partition
            FROM {TABLE}
            WHERE asset = ? AND (CAST(? AS TIMESTAMPTZ) IS NULL OR delivered_at >= ?)
            ORDER BY delivered_at""",
        [asset, since, since],
    ).fetchall()
    return [
        Delivery(
            asset=r[0],
            file_name=r[1],
            delivered_at=r[2].astimezone(UTC),
            intervals=_decode(r[3]),
            rows=r[4],
            bytes=r[5],
            sha256=r[6],
            remote_path=r[7],
            history_path=r[8],
            remote_history_path=r[9],
            run_id=r[10],
            partition=r[11],
        )
        for r in rows
    ]


def delivered_until(con: duckdb.DuckDBPyConnection, asset: str) -> datetime | None:
    """The end of the newest data window ``asset`` ever delivered (None: never)."""
    ensure_table(con)
    row = con.execute(f"SELECT max(window_end) FROM {TABLE} WHERE asset = ?", [asset]).fetchone()
    return row[0].astimezone(UTC) if row and row[0] is not None else None


def history_name(file_name: str, delivered_at: datetime) -> str:
    """The dated name of a delivered file: ``<YYYY-MM-DD>/<HHMMSS.ffffff>Z_<file_name>`` (UTC).

    Microseconds, because two deliveries of one file can fall in the same second (three per-day
    backfill runs in a row): a copy must never over-write an earlier one.
    """
    at = delivered_at.astimezone(UTC)
    return f"{at:%Y-%m-%d}/{at:%H%M%S.%f}Z_{file_name}"


def keep_copy(local_path: Path, history_dir: Path, file_name: str, delivered_at: datetime) -> Path:
    """Copy a delivered file to ``history_dir/<YYYY-MM-DD>/<HHMMSS.ffffff>Z_<file_name>``.

    Returns:
        The path of the copy.
    """
    target = history_dir / history_name(file_name, delivered_at)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(local_path, target)
    return target
