"""Small markdown tables for Dagster metadata previews."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

MAX_CELL = 60


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Render rows as a markdown table; cells are flattened, escaped and cut to stay readable."""
    rows = list(rows)
    if not rows:
        return "_no rows_"
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |"]
    lines.append("|" + "---|" * len(columns))
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def records_table(records: Sequence[dict]) -> str:
    """Render a list of dicts (same keys) as a markdown table."""
    if not records:
        return "_no rows_"
    columns = list(records[0].keys())
    return markdown_table(columns, ([r.get(c) for c in columns] for r in records))


def query_preview(con, sql: str, params: Sequence[object] = ()) -> str:
    """Run a (small, LIMITed) query on a DuckDB connection and render its rows as a table."""
    cursor = con.execute(sql, list(params))
    columns = [d[0] for d in cursor.description]
    return markdown_table(columns, cursor.fetchall())


def table_preview(con, table: str, where: str = "", params: Sequence[object] = ()) -> str:
    """The first five rows of ``table`` (our own ``schema.table`` name), optionally filtered."""
    return query_preview(con, f"SELECT * FROM {table} {where} LIMIT 5", params)
