"""The SQL a list entity's staging is built from: its frame, and the fields parties share.

A list entity (Customer, Item, Vendor) is staged by one ``CREATE OR REPLACE TABLE`` statement
(:func:`staging_sql`): each raw row parsed once, then ``id``, ``sync_token``, the entity's own
columns, ``created_at``, ``last_updated`` and the raw ``payload``, ordered by numeric id. The
name and contact fields a customer and a vendor share are spelled once here (:data:`NAME_SHAPE`
with :func:`name_columns`, :data:`CONTACT_SHAPE` with :func:`contact_columns`).
:func:`rebuild` runs a staging statement and counts the rows.
"""

from __future__ import annotations

import logging
from typing import Any

import duckdb

from qbpa_assets.lib.warehouse.flatten import V, shape
from qbpa_assets.lib.warehouse.tables import count_rows, ensure_schema

logger = logging.getLogger(__name__)

#: (staged column, QBO field) of a party's names.
_NAMES = [
    ("display_name", "DisplayName"),
    ("company_name", "CompanyName"),
    ("title", "Title"),
    ("given_name", "GivenName"),
    ("middle_name", "MiddleName"),
    ("family_name", "FamilyName"),
    ("suffix", "Suffix"),
]
#: (staged column, QBO field) of a party's phone numbers, each read as ``<field>.FreeFormNumber``;
#: the contact is the e-mail, these, then the website.
_PHONES = [
    ("phone", "PrimaryPhone"),
    ("mobile", "Mobile"),
    ("fax", "Fax"),
    ("alternate_phone", "AlternatePhone"),
]

#: The ``json_transform`` shape of a party's names (the fields :func:`name_columns` reads).
NAME_SHAPE: dict[str, Any] = {field: V for _, field in _NAMES}
#: The ``json_transform`` shape of a party's contact (the fields :func:`contact_columns` reads).
CONTACT_SHAPE: dict[str, Any] = {
    "PrimaryEmailAddr": {"Address": V},
    **{field: {"FreeFormNumber": V} for _, field in _PHONES},
    "WebAddr": {"URI": V},
}


def name_columns(x: str) -> str:
    """The columns ``display_name`` … ``suffix`` of the party struct ``x``."""
    return ",\n    ".join(f"{x}.{field} AS {col}" for col, field in _NAMES)


def contact_columns(x: str) -> str:
    """The columns ``email``, ``phone``, ``mobile``, ``fax``, ``alternate_phone``, ``website``."""
    phones = [f"{x}.{field}.FreeFormNumber AS {col}" for col, field in _PHONES]
    return ",\n    ".join(
        [f"{x}.PrimaryEmailAddr.Address AS email", *phones, f"{x}.WebAddr.URI AS website"]
    )


def active_column(x: str) -> str:
    """The ``active`` column: the raw row's flag, else the struct ``x``'s, else true."""
    return f"CAST(coalesce(active, {x}.Active, true) AS BOOLEAN) AS active"


def staging_sql(
    table: str,
    raw_table: str,
    structure: dict[str, Any],
    x: str,
    columns: list[str],
    *,
    keep: frozenset[str] | None = None,
) -> str:
    """The statement that rebuilds ``table`` from ``raw_table``, one row per raw row.

    Args:
        table: The staged table (``staging.customers``, …).
        raw_table: Its raw table (``quickbooks.customers``, …), with ``id``, ``sync_token``,
            ``last_updated``, ``active`` and ``payload``.
        structure: The ``json_transform`` shape each payload is parsed with (once).
        x: The alias of the parsed struct that ``columns`` read.
        columns: The entity's own columns, in table order, between ``sync_token`` and
            ``created_at``.
        keep: Persist only these columns (``id`` always), unsorted: the stored part of a
            table whose view has the others (:func:`column_names`, :func:`select_sql`).

    Returns:
        The ``CREATE OR REPLACE TABLE`` statement.
    """
    if keep is None:
        return f"CREATE OR REPLACE TABLE {table} AS {select_sql(raw_table, structure, x, columns)}"
    stored = [c for c in split_columns(columns) if c[0] in keep]
    frame = [(n, e) for n, e in _frame(x)[1:] if n in keep]
    body = ",\n    ".join(f"{e} AS {n}" for n, e in [_frame(x)[0], *stored, *frame])
    return f"""
CREATE OR REPLACE TABLE {table} AS
WITH src AS (
  SELECT r.id, r.sync_token, r.last_updated, r.active,
         json_transform(r.payload, {shape(structure)}) AS {x}
  FROM {raw_table} AS r
)
SELECT
    {body}
FROM src
"""


def _frame(x: str) -> list[tuple[str, str]]:
    """(name, SQL) of the frame columns every list table has, ``id`` first."""
    return [
        ("id", "CAST(id AS VARCHAR)"),
        ("sync_token", f"coalesce({x}.SyncToken, sync_token)"),
        ("created_at", f"{x}.MetaData.CreateTime"),
        ("last_updated", f"coalesce(last_updated, {x}.MetaData.LastUpdatedTime)"),
        ("payload", "payload"),
    ]


def split_columns(columns: list[str]) -> list[tuple[str, str]]:
    """(name, SQL) of each column of ``columns`` (items ``"<sql> AS <name>"``, some several)."""
    return [
        (name, sql)
        for item in columns
        for sql, name in [part.strip().rsplit(" AS ", 1) for part in item.split(",\n    ")]
    ]


def column_names(columns: list[str]) -> list[str]:
    """Every column of the table :func:`staging_sql` builds from ``columns``, in its order."""
    return ["id", "sync_token", *(n for n, _ in split_columns(columns)), "created_at",
            "last_updated", "payload"]  # fmt: skip


def select_sql(
    raw_table: str, structure: dict[str, Any], x: str, columns: list[str], *, order: bool = True
) -> str:
    """The select of every column, one row per raw row (``order``: by numeric id)."""
    body = ",\n    ".join(columns)
    return f"""
WITH src AS (
  SELECT r.id, r.sync_token, r.last_updated, r.active, r.payload,
         json_transform(r.payload, {shape(structure)}) AS {x}
  FROM {raw_table} AS r
)
SELECT
    CAST(id AS VARCHAR) AS id,
    coalesce({x}.SyncToken, sync_token) AS sync_token,
    {body},
    {x}.MetaData.CreateTime AS created_at,
    coalesce(last_updated, {x}.MetaData.LastUpdatedTime) AS last_updated,
    payload
FROM src
""" + ("ORDER BY TRY_CAST(id AS BIGINT) NULLS LAST, id\n" if order else "")


def view_sql(view: str, stored: str, keep: frozenset[str], names: list[str], computed: str) -> str:
    """The view ``view`` of every column: ``keep`` from ``stored``, the others from ``computed``.

    Args:
        view: The view's name (the staged table's public name, e.g. ``staging.customers``).
        stored: The persisted table (:func:`staging_sql` with ``keep``).
        keep: The persisted columns.
        names: Every column, in the view's order (:func:`column_names`).
        computed: A select of ``id`` and the other columns, one row per id
            (:func:`select_sql` without ``order``).

    Returns:
        The ``CREATE OR REPLACE VIEW`` statement; its rows are ordered by numeric id.
    """
    cols = ", ".join(f"s.{n}" if n in keep else f"c.{n}" for n in names)
    return (
        f"CREATE OR REPLACE VIEW {view} AS SELECT {cols} FROM {stored} AS s "
        f"LEFT JOIN ({computed}) AS c ON c.id = s.id "
        "ORDER BY TRY_CAST(s.id AS BIGINT) NULLS LAST, s.id"
    )


def drop_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop ``table`` (``schema.name``) if it is a table: a view of that name is to replace it."""
    schema, name = table.split(".")
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    if kind and kind[0] == "BASE TABLE":
        con.execute(f"DROP TABLE {table}")


def rebuild(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    table: str,
    params: dict[str, Any] | None = None,
    label: str | None = None,
) -> int:
    """Run the staging statement ``sql`` (in schema ``staging``) and count ``table``'s rows.

    Args:
        con: DuckDB connection holding the raw table.
        sql: The statement that rebuilds ``table``.
        table: The staged table.
        params: The statement's named parameters, if any.
        label: How the log line names the table (default: ``table``).

    Returns:
        Number of staged rows.
    """
    ensure_schema(con, "staging")
    if params is None:
        con.execute(sql)
    else:
        con.execute(sql, params)
    rows = count_rows(con, table)
    logger.info("%s: %d rows", label or table, rows)
    return rows
