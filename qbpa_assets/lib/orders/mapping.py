"""The order mapping (``mappings/orders.toml``): source SQL and QuickBooks field expressions.

Loaded through the one mapping loader (:mod:`qbpa_assets.lib.mappings`: packaged default, or the
same-named file in ``QBPA_MAPPINGS_DIR``). Every field expression is checked to be ONE SQL
expression at load, before anything runs, and :func:`validate_mapping` compiles them against the
staged tables; both name the file, the section and the field of the first bad one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from qbpa_assets.lib.mappings import MappingError, check_expression, load_toml, mapping_path
from qbpa_assets.lib.orders.tables import HEADER_FROM, LINE_FROM, ensure_tables

ENTITIES = ("Estimate", "Invoice", "SalesReceipt")
MAPPING_FILE = "orders.toml"
SOURCE_QUERIES = ("orders_sql", "lines_sql", "new_orders_sql")


class OrderMappingError(MappingError):
    """The order mapping file is invalid (names the file, the section and the field)."""


@dataclass(frozen=True)
class OrderMapping:
    """The order mapping: source SQL for the Inventiv DB and the QuickBooks field mapping.

    ``header``/``line`` map a dotted QuickBooks field path (``CustomerRef.value``) to a DuckDB
    SQL expression over the staged order ``o`` (and, for lines, the line ``l``).
    """

    path: str
    orders_sql: str
    lines_sql: str
    new_orders_sql: str
    header: dict[str, str]
    line: dict[str, str]


def load_order_mapping(
    source: Path | str | None = None, overrides_dir: Path | str | None = None
) -> OrderMapping:
    """Load the order mapping.

    Args:
        source: A mapping file to load. Wins over everything else.
        overrides_dir: A folder (``QBPA_MAPPINGS_DIR``); its ``orders.toml`` replaces the
            packaged default when present.

    Returns:
        The parsed mapping.

    Raises:
        OrderMappingError: Unreadable TOML, missing sections/keys, a [target] section, or a field
            that is not exactly one SQL expression.
    """
    path = Path(source) if source is not None else mapping_path(MAPPING_FILE, overrides_dir)[0]
    try:
        data = load_toml(path)
    except MappingError as exc:
        raise OrderMappingError(path, str(exc).removeprefix(f"{path}: ")) from None
    # [status] (where order status is written) is read by lib/orders/status_sql.py.
    if "target" in data:
        raise OrderMappingError(
            path,
            "[target] is no longer read: what orders become in QuickBooks is set only by "
            "QBO_SALES_ORDER_ENTITY (Estimate, Invoice or SalesReceipt); remove [target]",
        )
    unknown = set(data) - {"source", "header", "line", "status"}
    if unknown:
        raise OrderMappingError(path, f"unknown section(s) {sorted(unknown)}")
    src = data.get("source", {})
    for key in SOURCE_QUERIES:
        if not isinstance(src.get(key), str) or not src[key].strip():
            raise OrderMappingError(path, f"[source] {key} is missing")
    for section in ("header", "line"):
        fields = data.get(section)
        if not isinstance(fields, dict) or not fields:
            raise OrderMappingError(path, "has no fields", section=section)
        for key, expr in fields.items():
            if not isinstance(expr, str) or not expr.strip():
                raise OrderMappingError(
                    path, "the value must be a SQL expression (text)", key, section
                )
            check_expression(path, key, expr, section=section, error=OrderMappingError)
    return OrderMapping(
        path=str(path),
        orders_sql=src["orders_sql"],
        lines_sql=src["lines_sql"],
        new_orders_sql=src["new_orders_sql"],
        header=dict(data["header"]),
        line=dict(data["line"]),
    )


def resolve_mapping(mapping: OrderMapping | Path | str | None) -> OrderMapping:
    """An OrderMapping as given, loaded from a file, or the packaged default (None)."""
    if isinstance(mapping, OrderMapping):
        return mapping
    return load_order_mapping(mapping)


def validate_mapping(con: duckdb.DuckDBPyConnection, mapping: OrderMapping) -> None:
    """Compile every mapping expression against the staged tables (nothing is sent).

    Each expression is checked again to be one expression before it is compiled, so a mapping
    built by hand (not loaded) can never run a statement either.

    Raises:
        OrderMappingError: Names the file, section and field of the first bad expression
            (unknown column, SQL error, more than one expression).
    """
    ensure_tables(con)
    for section, fields, from_ in (
        ("header", mapping.header, HEADER_FROM),
        ("line", mapping.line, LINE_FROM),
    ):
        for key, expr in fields.items():
            check_expression(mapping.path, key, expr, section=section, error=OrderMappingError)
            try:
                con.execute(f"SELECT (\n{expr}\n) FROM {from_} LIMIT 0")
            except duckdb.Error as exc:
                raise OrderMappingError(
                    mapping.path, f"{expr!r}: {str(exc).strip().splitlines()[0]}", key, section
                ) from None
