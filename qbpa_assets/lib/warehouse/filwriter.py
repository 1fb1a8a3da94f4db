r"""Write a `.fil` file from a staged table with one DuckDB ``COPY``.

The `.fil` format (DESIGN.md): tab-delimited, a header row, CRLF line ends, UTF-8, no CSV
quoting. Every value that could break a record is cleaned in SQL (each run of tabs/CRs/LFs →
one space, blanks trimmed): text, decided from the column types (`build_select`); numbers,
dates, JSON numbers and ENUMs cannot hold such characters and are not touched. NULL and empty
both write an empty field; DATE and TIMESTAMP values use the layout's strftime formats; numbers
are written by DuckDB as stored (the default layouts export the ``*_text`` columns, i.e. the
number as QuickBooks sent it).

DuckDB writes the whole file natively — ``COPY (SELECT …) TO … (FORMAT csv, DELIMITER '\t',
HEADER, NEW_LINE '\r\n', QUOTE '', ESCAPE '')`` — so there is no Python work per row. With
``QUOTE ''`` DuckDB never quotes, which is what PocketAdvantage expects: a ``"`` is data.
Non-UTF-8 encodings are produced by transcoding the UTF-8 output in 1 MiB chunks. The file is
written under a temporary name beside the target and renamed over it only when complete.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from qbpa_assets.lib.mappings import Layout, MappingError

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_PREVIEW_ROWS = 5
_PASS_THROUGH_TYPES = (
    "BOOLEAN",
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)
# strftime directives that write only digits, ASCII letters or a sign (never a blank).
_PLAIN_DIRECTIVES = re.compile(r"%[YmdHMSyfjIpzbBaAuwUWVGgCqL%]")
_REPLACE_HANDLER = "qbpa-count-replace"
# Characters that are special inside an RE2 character class.
_RE2_CLASS_ESCAPES = {c: "\\" + c for c in "\\]^-["}
_counter = threading.local()


def _count_and_replace(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    _counter.value = getattr(_counter, "value", 0) + (exc.end - exc.start)
    return "?" * (exc.end - exc.start), exc.end


codecs.register_error(_REPLACE_HANDLER, _count_and_replace)


@dataclass(frozen=True)
class FilResult:
    """What `write_fil` wrote.

    Attributes:
        path: The final file.
        rows: Data rows (header excluded).
        bytes: File size.
        sha256: Hex digest of the file.
        preview: First rows as dicts (header name → cleaned value), at most 5.
        replaced: Characters the target encoding could not represent (written as ``?``).
        field_counts_ok: Every record holds exactly one field per column.
    """

    path: Path
    rows: int
    bytes: int
    sha256: str
    preview: list[dict[str, Any]]
    replaced: int
    field_counts_ok: bool


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _clean_text(expr: str, delimiter: str) -> str:
    # A run of tabs, CRs, LFs (and delimiters) becomes one space and outer blanks go, so a
    # Windows line break in a memo reads "line one line two". Most values hold none of these:
    # they are tested with memchr-speed contains() and pass unchanged, and only the others pay
    # for the RE2 pass and the trim (which cost ~7x the test over 3M values).
    v = f"CAST(({expr}) AS VARCHAR)"
    extra = "" if delimiter in "\t\r\n" else _RE2_CLASS_ESCAPES.get(delimiter, delimiter)
    pattern = "[\\t\\r\\n" + extra + "]+"
    tests = [f"contains({v}, chr({ord(c)}))" for c in "\t\r\n"]
    if extra:
        tests.append(f"contains({v}, {_sql_literal(delimiter)})")
    tests += [f"starts_with({v}, ' ')", f"ends_with({v}, ' ')"]
    cleaned = f"trim(regexp_replace({v}, {_sql_literal(pattern)}, ' ', 'g'))"
    return f"CASE WHEN {' OR '.join(tests)} THEN {cleaned} ELSE {v} END"


def _is_plain_format(fmt: str, delimiter: str) -> bool:
    """Whether strftime with ``fmt`` can only write digits, letters and the format's literals.

    Such output needs no cleaning: `parse_layout` refuses control characters in a format, so it
    only has to hold no delimiter, no outer blank and no directive that writes blanks (``%e``,
    ``%c``…) or a tab/newline (``%t``, ``%n``).
    """
    literals = _PLAIN_DIRECTIVES.sub("", fmt)
    return (
        "%" not in literals
        and delimiter not in literals
        and fmt == fmt.strip()
        and not (delimiter.isalnum() or delimiter in "+-.:")
    )


def _enum_is_clean(con: duckdb.DuckDBPyConnection, col_type: str, delimiter: str) -> bool:
    # The type string comes from DESCRIBE (DuckDB's own spelling), not from the layout.
    values = con.execute(f"SELECT enum_range(NULL::{col_type})").fetchone()[0]
    return all(
        v == v.strip() and not any(c in v for c in ("\t", "\r", "\n", delimiter)) for v in values
    )


def build_select(
    con: duckdb.DuckDBPyConnection,
    layout: Layout,
    where: str | None = None,
    params: list[Any] | None = None,
) -> str:
    """Return the cleaned ``SELECT`` that produces the file's records.

    Column types are read with ``DESCRIBE``, and only values that may hold a tab, CR, LF, the
    delimiter or outer blanks are cleaned: text (VARCHAR). Numbers and booleans pass through;
    DATE and TIMESTAMP values get the layout's formats (cleaned only when a format could write
    a blank or the delimiter); JSON text (the staged numbers as QuickBooks sent them) holds no
    raw control character, so it passes with a tab delimiter; an ENUM passes when none of its
    values needs cleaning.
    """
    raw = ",\n  ".join(f"(\n{c.sql}\n) AS {_quote_ident(c.name)}" for c in layout.columns)
    from_where = f"FROM {layout.source}" + (f"\nWHERE (\n{where}\n)" if where else "")
    try:
        described = con.execute(f"DESCRIBE SELECT {raw} {from_where}", params or []).fetchall()
    except duckdb.Error as exc:
        raise MappingError(layout.path, f"cannot compile the layout: {exc}") from exc
    types = {row[0]: str(row[1]) for row in described}
    parts = []
    for column in layout.columns:
        col_type = types.get(column.name, "VARCHAR")
        upper = col_type.upper()
        expr, clean = f"\n{column.sql}\n", True
        if upper == "DATE" or upper.startswith("TIMESTAMP"):
            fmt = layout.date_format if upper == "DATE" else layout.timestamp_format
            expr = f"strftime(({column.sql}), {_sql_literal(fmt)})"
            clean = not _is_plain_format(fmt, layout.delimiter)
        elif upper.startswith(_PASS_THROUGH_TYPES):
            clean = False
        elif upper == "JSON":
            clean = layout.delimiter != "\t"
        elif upper.startswith("ENUM("):
            clean = not _enum_is_clean(con, col_type, layout.delimiter)
        name = _quote_ident(column.name)
        if clean:
            parts.append(f"{_clean_text(expr, layout.delimiter)} AS {name}")
        else:
            parts.append(f"({expr}) AS {name}")
    order = f"\nORDER BY {layout.order_by}" if layout.order_by else ""
    return "SELECT\n  " + ",\n  ".join(parts) + f"\n{from_where}{order}"


def _copy_options(layout: Layout) -> str:
    newline = "\\r\\n" if layout.newline == "\r\n" else "\\n"
    header = "true" if layout.header else "false"
    return (
        f"FORMAT csv, DELIMITER {_sql_literal(layout.delimiter)}, HEADER {header}, "
        f"NEW_LINE '{newline}', QUOTE '', ESCAPE '', NULLSTR ''"
    )


def _transcode(src: Path, dst: Path, encoding: str) -> int:
    """Re-encode a UTF-8 file in chunks; return how many characters had to be replaced."""
    _counter.value = 0
    with (
        src.open("r", encoding="utf-8", newline="") as fin,
        dst.open("wb") as fout,
    ):
        encoder = codecs.getincrementalencoder(encoding)(errors=_REPLACE_HANDLER)
        while chunk := fin.read(_CHUNK):
            fout.write(encoder.encode(chunk))
        fout.write(encoder.encode("", final=True))
        fout.flush()
        os.fsync(fout.fileno())
    return int(_counter.value)


def _digest_and_counts(path: Path) -> tuple[str, int, int, int, int]:
    """Hash the file and count delimiters, CRs and LFs in C-speed chunk scans."""
    sha = hashlib.sha256()
    size = tabs = crs = lfs = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
            crs += chunk.count(b"\r")
            lfs += chunk.count(b"\n")
            tabs += chunk.count(b"\t")
    return sha.hexdigest(), size, tabs, crs, lfs


def write_fil(
    con: duckdb.DuckDBPyConnection,
    layout: Layout,
    out_path: Path,
    *,
    where: str | None = None,
    params: list[Any] | None = None,
) -> FilResult:
    """Write the layout's records to ``out_path`` atomically.

    Args:
        con: DuckDB connection holding the staged table.
        layout: A loaded layout (validated here before anything is written).
        out_path: Final file path; its folder is created if missing.
        where: Optional SQL condition over the staged table, e.g. `Layout.window_where`.
        params: Positional parameters bound to ``?`` in ``where``.

    Returns:
        The `FilResult`.

    Raises:
        MappingError: The layout does not compile against the staged table.
    """
    layout.validate(con)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    select = build_select(con, layout, where, params)
    tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex}.tmp")
    utf8_tmp = tmp if layout.encoding == "utf-8" else tmp.with_suffix(".utf8")
    replaced = 0
    try:
        copied = con.execute(
            f"COPY (\n{select}\n) TO {_sql_literal(str(utf8_tmp))} ({_copy_options(layout)})",
            params or [],
        ).fetchone()
        rows = int(copied[0]) if copied else 0
        if utf8_tmp != tmp:
            replaced = _transcode(utf8_tmp, tmp, layout.encoding)
            utf8_tmp.unlink()
        else:
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
        sha256, size, tabs, crs, lfs = _digest_and_counts(tmp)
        os.replace(tmp, out_path)
    finally:
        for leftover in (tmp, utf8_tmp):
            leftover.unlink(missing_ok=True)

    records = rows + (1 if layout.header else 0)
    ncols = len(layout.columns)
    # Cleaning removed every delimiter/CR/LF from the values, so the totals must add up
    # exactly; a mismatch means some value slipped through uncleaned.
    newline_ok = lfs == records and crs == (records if layout.newline == "\r\n" else 0)
    if layout.delimiter == "\t":
        delim_ok = tabs == records * (ncols - 1)
    else:
        delim_ok = _count_byte(out_path, layout.delimiter, layout.encoding) == records * (ncols - 1)
    field_counts_ok = newline_ok and delim_ok
    if not field_counts_ok:
        logger.warning("%s: field counts do not match %d columns", out_path, ncols)

    preview = _read_preview(out_path, layout) if field_counts_ok else []
    logger.info("%s: %d rows, %d bytes, sha256 %s", out_path, rows, size, sha256[:12])
    return FilResult(
        path=out_path,
        rows=rows,
        bytes=size,
        sha256=sha256,
        preview=preview,
        replaced=replaced,
        field_counts_ok=field_counts_ok,
    )


def _count_byte(path: Path, char: str, encoding: str) -> int:
    needle = char.encode(encoding)
    total = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            total += chunk.count(needle)
    return total


def _read_preview(path: Path, layout: Layout) -> list[dict[str, Any]]:
    """The first records, read back from the file just written.

    Reading them back (instead of re-running the query) costs nothing even when the query
    sorts a million rows, and shows exactly what PocketAdvantage will read.
    """
    names = list(layout.column_names)
    out: list[dict[str, Any]] = []
    with path.open("r", encoding=layout.encoding, newline=layout.newline) as fh:
        if layout.header:
            fh.readline()
        for _ in range(_PREVIEW_ROWS):
            line = fh.readline()
            if not line:
                break
            values = line.removesuffix(layout.newline).split(layout.delimiter)
            out.append(dict(zip(names, values, strict=True)))
    return out
