"""The one check of a mapping's SQL: exactly one expression, parsed and never run.

Used for every expression of every mapping (`.fil` layouts and the order mapping) before
anything runs, so ``1); DROP TABLE t; --`` is refused naming the file, section and field.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import duckdb

from qbpa_assets.lib.mappings.files import MappingError

_PARSERS = threading.local()


def _parser() -> duckdb.DuckDBPyConnection:
    """An in-memory connection per thread that only parses (opening one costs ~20 ms)."""
    if getattr(_PARSERS, "con", None) is None:
        _PARSERS.con = duckdb.connect(":memory:")
    return _PARSERS.con


def check_expression(
    path: str | Path,
    field: str,
    sql: str,
    *,
    section: str | None = None,
    prefix: str = "SELECT",
    error: type[MappingError] = MappingError,
) -> None:
    """Refuse a mapping expression that is not exactly one SQL expression.

    The expression is parsed (never run) as ``SELECT (expr)``: a second statement
    (``1); DROP TABLE t; --``), a second column (``1), (2``), a clause of its own (``1) FROM t
    WHERE (1``), a set operation, or anything that does not parse is refused.

    Args:
        path: The mapping file (for the message).
        field: The column or field the expression belongs to.
        sql: The expression.
        section: The TOML section of the field, when the file has sections.
        prefix: ``SELECT`` for an expression; ``SELECT 1 ORDER BY`` for an ORDER BY list.
        error: The MappingError subclass to raise (the order mapping has its own).

    Raises:
        MappingError: Naming file, section and field; nothing has been executed.
    """

    def refuse(why: str) -> MappingError:
        return error(path, f"{sql!r} {why}; nothing was run", field, section)

    plain = f"{prefix} ({sql})" if prefix == "SELECT" else f"{prefix} {sql}"
    try:
        if len(duckdb.extract_statements(plain)) > 1:
            raise refuse("holds more than one SQL statement")
    except duckdb.Error:
        pass  # judged below, on the form with the closing parenthesis on its own line
    wrapped = f"{prefix} (\n{sql}\n)" if prefix == "SELECT" else f"{prefix} {sql}\n"
    parsed = _parser().execute("SELECT json_serialize_sql(?)", [wrapped]).fetchone()[0]
    tree = json.loads(parsed)
    if tree.get("error"):
        raise refuse(f"is not valid SQL: {tree.get('error_message', '').splitlines()[0]}")
    statements = tree.get("statements") or []
    if len(statements) != 1:
        raise refuse("holds more than one SQL statement")
    node = statements[0].get("node") or {}
    single = (
        node.get("type") == "SELECT_NODE"
        and (prefix != "SELECT" or len(node.get("select_list") or []) == 1)
        and (node.get("from_table") or {}).get("type") == "EMPTY"
        and not node.get("where_clause")
        and not node.get("group_expressions")
        and not node.get("having")
        and not node.get("qualify")
        and (prefix != "SELECT" or not node.get("modifiers"))
    )
    if not single:
        raise refuse("must be a single SQL expression")
