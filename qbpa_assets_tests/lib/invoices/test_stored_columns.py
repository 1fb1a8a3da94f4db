"""``staging.invoice_lines_stored`` persists the file's columns; the view has every column."""

from __future__ import annotations

from datetime import timedelta

import duckdb

from qbpa_assets.lib.invoices import line_sql, staging
from qbpa_assets.lib.master_data.rep_source import RepSource
from qbpa_assets_tests.fixtures.qbo_rows import (
    DAY1,
    DAY2,
    DAY3,
    build_raw,
    make_invoice,
    status_invoices,
)
from qbpa_assets_tests.lib.invoices.test_line_numbers import _awkward_invoice

WINDOWS = [(DAY1, DAY2), (DAY2, DAY3)]


def _raw() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    build_raw(c, [*status_invoices(), _awkward_invoice(), make_invoice("401", DAY2)])
    return c


def _full_select(c: duckdb.DuckDBPyConnection, source: RepSource) -> list[tuple]:
    """Every column computed in one select per window, as the single wide table held them."""
    sql = line_sql.lines_select(
        line_sql.ALL_COLUMNS,
        line_sql.INVOICE_SHAPE,
        "r.last_updated >= $start AND r.last_updated < $end",
    )
    got: list[tuple] = []
    for start, end in WINDOWS:
        params = {"start": start, "end": end, "end_date": end.date(), **source.sql_params}
        got += c.execute(sql, params).fetchall()
    return sorted(got, key=repr)


def test_the_view_has_every_column_with_the_values_of_the_full_select():
    c = _raw()
    source = RepSource("class")
    for start, end in WINDOWS:
        staging.refresh_invoice_lines(c, start, end, source)
    cols = [r[0] for r in c.execute("DESCRIBE staging.invoice_lines").fetchall()]
    assert cols == list(line_sql.ALL_COLUMNS)
    got = sorted(c.execute("SELECT * FROM staging.invoice_lines").fetchall(), key=repr)
    assert got and got == _full_select(c, source)


def test_the_stored_table_holds_only_the_columns_files_and_checks_read():
    c = _raw()
    staging.refresh_invoice_lines(c, DAY1, DAY2)
    stored = {r[0] for r in c.execute(f"DESCRIBE {staging.STORED_TABLE}").fetchall()}
    assert stored == set(line_sql.STORED_COLUMNS) and len(stored) < len(line_sql.ALL_COLUMNS)
    kind = c.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'invoice_lines'"
    ).fetchone()
    assert kind == ("VIEW",)


def test_a_wide_table_of_an_earlier_release_becomes_the_stored_table():
    c = _raw()
    staging.refresh_invoice_lines(c, DAY1, DAY2)
    before = sorted(c.execute("SELECT * FROM staging.invoice_lines").fetchall(), key=repr)
    # What an earlier release left: one wide table named staging.invoice_lines.
    c.execute("CREATE TABLE staging.wide AS SELECT * FROM staging.invoice_lines")
    c.execute("DROP VIEW staging.invoice_lines")
    c.execute(f"DROP TABLE {staging.STORED_TABLE}")
    c.execute("ALTER TABLE staging.wide RENAME TO invoice_lines")
    assert staging.refresh_invoice_lines(c, DAY2, DAY3) > 0  # day 1 is not re-staged
    day1 = c.execute(
        "SELECT * FROM staging.invoice_lines WHERE invoice_last_updated < $d", {"d": DAY2}
    ).fetchall()
    assert sorted(day1, key=repr) == before
    assert staging.refresh_invoice_lines(c, DAY1, DAY2 + timedelta(hours=1)) > 0
