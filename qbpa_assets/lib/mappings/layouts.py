"""`.fil` layouts: which columns go into an export file, as data.

A layout names the staged table to read and lists the output columns, each a header name plus a
DuckDB SQL expression over that table. Example::

    file_name = "customer.fil"
    source = "staging.customers"
    order_by = "id"

    [[columns]]
    name = "CUSTOMER_ID"
    sql = "id"

Structural problems (bad TOML, unknown option, duplicate or empty column name, more than one
expression) raise `MappingError` from `load_layout`; problems that need the database (unknown
column, SQL error, missing source table) raise it from `Layout.validate`. Either way the message
names the file and the column, and nothing has been written yet.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from qbpa_assets.lib.mappings.expressions import check_expression
from qbpa_assets.lib.mappings.files import (
    MappingError,
    first_line,
    load_toml,
    mapping_path,
)

logger = logging.getLogger(__name__)


_TOP_LEVEL_OPTIONS = frozenset(
    {
        "file_name",
        "source",
        "columns",
        "encoding",
        "header",
        "delimiter",
        "newline",
        "date_format",
        "timestamp_format",
        "window_column",
        "order_by",
        "description",
    }
)
_COLUMN_OPTIONS = frozenset({"name", "sql", "description"})
_NEWLINES = {"crlf": "\r\n", "lf": "\n", "\r\n": "\r\n", "\n": "\n"}
# A qualified table name such as ``staging.customers``; the source is spliced into SQL, so it
# must be an identifier and never an arbitrary expression.
_SOURCE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Column:
    """One output column: its header name and the SQL expression that computes it."""

    name: str
    sql: str


@dataclass(frozen=True)
class Layout:
    """A parsed `.fil` layout.

    Attributes:
        name: Layout name, e.g. ``customer.fil``.
        path: The TOML file it came from (default or override).
        file_name: Name of the file written and uploaded.
        source: Staged table the expressions read, e.g. ``staging.customers``.
        columns: Output columns, in order.
        encoding: Output encoding (Python codec name); unrepresentable characters are replaced.
        header: Whether the first line holds the column names.
        delimiter: Field separator (default a tab).
        newline: Record separator (default CRLF).
        date_format: strftime format for DATE values.
        timestamp_format: strftime format for TIMESTAMP values.
        window_column: Column holding the partition time (incremental layouts only).
        order_by: SQL ORDER BY list that makes the file deterministic.
        is_override: True when loaded from the overrides folder.
    """

    name: str
    path: Path
    file_name: str
    source: str
    columns: tuple[Column, ...]
    encoding: str = "utf-8"
    header: bool = True
    delimiter: str = "\t"
    newline: str = "\r\n"
    date_format: str = "%Y-%m-%d"
    timestamp_format: str = "%Y-%m-%d %H:%M:%S"
    window_column: str | None = None
    order_by: str | None = None
    is_override: bool = False
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))

    def window_where(self) -> str:
        """Return a ``WHERE`` condition selecting ``[start, end)`` of the window column.

        Bind it with ``params=[start, end]`` in `qbpa_assets.lib.warehouse.filwriter.write_fil`.

        Raises:
            MappingError: The layout has no ``window_column``.
        """
        if not self.window_column:
            raise MappingError(self.path, "layout has no window_column", "window_column")
        col = _quote_ident(self.window_column)
        return f"{col} >= ? AND {col} < ?"

    def validate(self, con: duckdb.DuckDBPyConnection) -> None:
        """Compile every expression against the staged table without reading rows.

        Each column is compiled on its own so that the error names the column at fault.

        Args:
            con: DuckDB connection holding the staged table.

        Raises:
            MappingError: Missing source table, unknown column, SQL error in an expression,
                bad ``order_by`` or ``window_column``.
        """
        source = self._source_for(con)
        if source != self.source:
            # set once, like column_names: what the writer and the row count read from now on
            object.__setattr__(self, "source", source)
        self._probe(
            con,
            f"SELECT * FROM {self.source} LIMIT 0",
            "source",
            f"source table {self.source} cannot be read",
        )
        for column in self.columns:
            _check_single_expression(self.path, column.name, column.sql)
            self._probe(
                con,
                f"SELECT (\n{column.sql}\n) FROM {self.source} LIMIT 0",
                column.name,
                f"invalid SQL {column.sql!r}",
            )
        if self.order_by:
            _check_single_expression(
                self.path, "order_by", self.order_by, prefix="SELECT 1 ORDER BY"
            )
            self._probe(
                con,
                f"SELECT 1 FROM {self.source} ORDER BY {self.order_by}\nLIMIT 0",
                "order_by",
                f"invalid order_by {self.order_by!r}",
            )
        if self.window_column:
            cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {self.source}").fetchall()}
            if self.window_column not in cols:
                raise MappingError(
                    self.path,
                    f"window_column {self.window_column!r} is not a column of {self.source}",
                    "window_column",
                )

    def _source_for(self, con: duckdb.DuckDBPyConnection) -> str:
        """The source, or its view when the layout reads columns a stored table lacks.

        ``staging.<name>_stored`` persists only the columns the default layouts read; the view
        ``staging.<name>`` has every column (the others computed on demand). A layout copied
        from a default one that reads another column is read from the view.
        """
        if not self.source.endswith("_stored"):
            return self.source
        probes = [f"SELECT (\n{c.sql}\n) FROM {self.source} LIMIT 0" for c in self.columns]
        for column in self.columns:
            _check_single_expression(self.path, column.name, column.sql)
        if self.order_by:
            _check_single_expression(
                self.path, "order_by", self.order_by, prefix="SELECT 1 ORDER BY"
            )
            probes.append(f"SELECT 1 FROM {self.source} ORDER BY {self.order_by}\nLIMIT 0")
        try:
            for sql in probes:
                con.execute(sql)
        except duckdb.Error:
            return self.source.removesuffix("_stored")
        return self.source

    def _probe(self, con: duckdb.DuckDBPyConnection, sql: str, field: str, what: str) -> None:
        """Run ``sql`` (a ``LIMIT 0`` probe); a DuckDB error becomes ``MappingError(what: …)``."""
        try:
            con.execute(sql)
        except duckdb.Error as exc:
            raise MappingError(self.path, f"{what}: {first_line(exc)}", field) from exc


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_single_expression(path: Path, column: str, sql: str, *, prefix: str = "SELECT") -> None:
    check_expression(path, column, sql, prefix=prefix)


def _require_str(path: Path, data: dict[str, Any], key: str, *, column: str | None = None) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MappingError(path, f"{key!r} must be a non-empty string", column or key)
    return value.strip()


def parse_layout(path: Path, data: dict[str, Any], *, name: str, is_override: bool) -> Layout:
    """Build a `Layout` from parsed TOML, checking everything that needs no database.

    Args:
        path: File the data came from (used in error messages).
        data: The parsed TOML document.
        name: Layout name, e.g. ``customer.fil``.
        is_override: Whether the file came from the overrides folder.

    Returns:
        The layout.

    Raises:
        MappingError: Unknown option, missing or malformed value, duplicate column name.
    """
    unknown = sorted(set(data) - _TOP_LEVEL_OPTIONS)
    if unknown:
        raise MappingError(path, f"unknown option {unknown[0]!r}", unknown[0])
    file_name = _require_str(path, data, "file_name")
    if "/" in file_name or "\\" in file_name or file_name in {".", ".."}:
        raise MappingError(path, "file_name must be a plain file name", "file_name")
    source = _require_str(path, data, "source")
    if not _SOURCE_RE.match(source):
        raise MappingError(path, f"source {source!r} must be a table name", "source")

    raw_columns = data.get("columns")
    if not isinstance(raw_columns, list) or not raw_columns:
        raise MappingError(path, "at least one [[columns]] entry is required", "columns")
    columns: list[Column] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_columns, start=1):
        label = raw.get("name") if isinstance(raw, dict) else None
        label = label if isinstance(label, str) and label else f"#{index}"
        if not isinstance(raw, dict):
            raise MappingError(path, "each column must be a table", label)
        bad = sorted(set(raw) - _COLUMN_OPTIONS)
        if bad:
            raise MappingError(path, f"unknown option {bad[0]!r}", label)
        col_name = _require_str(path, raw, "name", column=label)
        if _CONTROL_RE.search(col_name):
            raise MappingError(path, "column name contains a tab or control character", label)
        sql = _require_str(path, raw, "sql", column=col_name)
        check_expression(path, col_name, sql)
        if col_name.lower() in seen:
            raise MappingError(path, "duplicate column name", col_name)
        seen.add(col_name.lower())
        columns.append(Column(col_name, sql))

    encoding = data.get("encoding", "utf-8")
    try:
        encoding = codecs.lookup(encoding).name
    except (LookupError, TypeError) as exc:
        raise MappingError(path, f"unknown encoding {encoding!r}", "encoding") from exc
    header = data.get("header", True)
    if not isinstance(header, bool):
        raise MappingError(path, "header must be true or false", "header")
    delimiter = data.get("delimiter", "\t")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n":
        raise MappingError(path, "delimiter must be one character", "delimiter")
    newline = data.get("newline", "crlf")
    if not isinstance(newline, str) or newline.lower() not in _NEWLINES:
        raise MappingError(path, "newline must be 'crlf' or 'lf'", "newline")
    formats = {}
    for key, default in (("date_format", "%Y-%m-%d"), ("timestamp_format", "%Y-%m-%d %H:%M:%S")):
        fmt = data.get(key, default)
        if not isinstance(fmt, str) or "%" not in fmt or _CONTROL_RE.search(fmt):
            raise MappingError(path, f"{key} must be a strftime format", key)
        try:
            date(2024, 1, 2).strftime(fmt)
        except ValueError as exc:
            raise MappingError(path, f"invalid {key} {fmt!r}", key) from exc
        formats[key] = fmt
    window_column = data.get("window_column")
    if window_column is not None and not (isinstance(window_column, str) and window_column):
        raise MappingError(path, "window_column must be a column name", "window_column")
    order_by = data.get("order_by")
    if order_by is not None and not (isinstance(order_by, str) and order_by.strip()):
        raise MappingError(path, "order_by must be a SQL ORDER BY list", "order_by")
    if order_by is not None:
        check_expression(path, "order_by", order_by, prefix="SELECT 1 ORDER BY")

    return Layout(
        name=name,
        path=path,
        file_name=file_name,
        source=source,
        columns=tuple(columns),
        encoding=encoding,
        header=header,
        delimiter=delimiter,
        newline=_NEWLINES[newline.lower()],
        date_format=formats["date_format"],
        timestamp_format=formats["timestamp_format"],
        window_column=window_column,
        order_by=order_by.strip() if order_by else None,
        is_override=is_override,
    )


def layout_path(name: str, overrides_dir: Path | str | None = None) -> tuple[Path, bool]:
    """Return the file a layout is read from, and whether it is an override.

    Args:
        name: Layout name (``customer.fil``) or file name (``customer.fil.toml``).
        overrides_dir: Optional folder whose same-named file replaces the default.

    Raises:
        MappingError: The name is not a plain name, or no such layout exists.
    """
    return mapping_path(name if name.endswith(".toml") else f"{name}.toml", overrides_dir)


def load_layout(name: str, overrides_dir: Path | str | None = None) -> Layout:
    """Load a layout, preferring a same-named file in ``overrides_dir``.

    Args:
        name: Layout name, e.g. ``"customer.fil"``.
        overrides_dir: Folder of overrides (``QBPA_MAPPINGS_DIR``); ``None`` for defaults only.

    Returns:
        The parsed layout (call `Layout.validate` before writing).

    Raises:
        MappingError: The file is missing, is not valid TOML, or is structurally invalid.
    """
    path, is_override = layout_path(name, overrides_dir)
    data = load_toml(path)
    layout = parse_layout(path, data, name=name.removesuffix(".toml"), is_override=is_override)
    if is_override:
        logger.info("Layout %s loaded from override %s", layout.name, path)
    return layout
