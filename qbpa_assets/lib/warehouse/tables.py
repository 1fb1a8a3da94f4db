"""Generic DuckDB table helpers shared by every flow: schemas, row counts, which tables exist."""

from __future__ import annotations

import duckdb


def ensure_schema(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Create ``schema`` when missing (schema names come from our code, never from users)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")


def count_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Number of rows in ``table`` (a ``schema.table`` name from our own code)."""
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def existing_tables(con: duckdb.DuckDBPyConnection, schema: str = "staging") -> set[str]:
    """Names of the tables that exist in ``schema`` (e.g. which staged tables are built)."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [schema]
    ).fetchall()
    return {row[0] for row in rows}
