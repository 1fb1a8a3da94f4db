"""Layout loading, overrides and validation errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from qbpa_assets.lib.invoices import staging as invoice_staging
from qbpa_assets.lib.mappings import DEFAULT_MAPPINGS_DIR, MappingError, load_layout
from qbpa_assets.lib.master_data import staging
from qbpa_assets_tests.fixtures.qbo_rows import DAY1, build_raw


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    build_raw(c)
    staging.refresh_customers(c)
    staging.refresh_items(c)
    invoice_staging.refresh_invoice_lines(c, DAY1, DAY1 + timedelta(days=2))
    yield c
    c.close()


@pytest.mark.parametrize("name", ["customer.fil", "item.fil", "invoice.fil"])
def test_defaults_load_and_validate(con, name):
    layout = load_layout(name, None)
    assert layout.file_name == name and not layout.is_override
    assert layout.delimiter == "\t" and layout.newline == "\r\n" and layout.header
    assert layout.encoding == "utf-8"
    layout.validate(con)


def test_invoice_layout_has_window(con):
    layout = load_layout("invoice.fil")
    assert layout.window_column == "invoice_last_updated"
    assert "?" in layout.window_where()
    with pytest.raises(MappingError, match="window_column"):
        load_layout("customer.fil").window_where()


def test_override_replaces_default(tmp_path, con):
    text = (DEFAULT_MAPPINGS_DIR / "customer.fil.toml").read_text()
    (tmp_path / "customer.fil.toml").write_text(text.replace('"CUSTOMER_NAME"', '"NAME"'))
    layout = load_layout("customer.fil", tmp_path)
    assert layout.is_override and layout.path == tmp_path / "customer.fil.toml"
    assert "NAME" in layout.column_names and "CUSTOMER_NAME" not in layout.column_names
    # Other layouts still come from the package.
    assert not load_layout("item.fil", tmp_path).is_override


def test_missing_layout():
    with pytest.raises(MappingError, match="no such layout"):
        load_layout("no_such.fil")
    with pytest.raises(MappingError):
        load_layout("../customer.fil")


HEAD = 'file_name = "customer.fil"\nsource = "staging.customers"\n'


def _col(name: str, sql: str) -> str:
    return f"[[columns]]\nname = {name!r}\nsql = {sql!r}\n"


STRUCTURAL = [
    ("unknown option", HEAD + "delimeter = ','\n" + _col("ID", "id"), "delimeter"),
    ("unknown column option", HEAD + "[[columns]]\nname = 'ID'\nsql = 'id'\nwidth = 3\n", "ID"),
    ("duplicate", HEAD + _col("ID", "id") + _col("id", "display_name"), "id"),
    ("empty name", HEAD + _col("", "id"), "#1"),
    ("missing sql", HEAD + "[[columns]]\nname = 'ID'\n", "ID"),
    ("no columns", HEAD, "columns"),
    ("bad encoding", HEAD + "encoding = 'klingon'\n" + _col("ID", "id"), "encoding"),
    ("bad source", 'file_name = "c.fil"\nsource = "x; drop"\n' + _col("ID", "id"), "source"),
    ("bad newline", HEAD + "newline = 'cr'\n" + _col("ID", "id"), "newline"),
    ("bad header", HEAD + "header = 'yes'\n" + _col("ID", "id"), "header"),
    (
        "file_name path",
        'file_name = "../x"\nsource = "staging.customers"\n' + _col("I", "id"),
        "file_name",
    ),
]


@pytest.mark.parametrize(("case", "text", "column"), STRUCTURAL, ids=[c[0] for c in STRUCTURAL])
def test_structural_errors_name_file_and_column(tmp_path, case, text, column):
    (tmp_path / "customer.fil.toml").write_text(text)
    with pytest.raises(MappingError) as info:
        load_layout("customer.fil", tmp_path)
    assert str(tmp_path / "customer.fil.toml") in str(info.value)
    assert info.value.column == column
    assert repr(column) in str(info.value)


def test_invalid_toml(tmp_path):
    (tmp_path / "customer.fil.toml").write_text("file_name = \n")
    with pytest.raises(MappingError, match="not valid TOML"):
        load_layout("customer.fil", tmp_path)


SQL_ERRORS = [
    ("unknown column", _col("ID", "id") + _col("FAX2", "fax_number"), "FAX2"),
    ("syntax error", _col("ID", "id") + _col("BAD", "upper(display_name"), "BAD"),
    ("unknown function", _col("F", "no_such_fn(id)"), "F"),
    ("second statement", _col("X", "1; DROP TABLE staging.customers"), "X"),
    ("bad order_by", "order_by = 'nope'\n" + _col("ID", "id"), "order_by"),
]


@pytest.mark.parametrize(("case", "cols", "column"), SQL_ERRORS, ids=[c[0] for c in SQL_ERRORS])
def test_sql_errors_name_file_and_column(tmp_path, con, case, cols, column):
    # order_by must precede the [[columns]] tables in TOML.
    (tmp_path / "customer.fil.toml").write_text(HEAD + cols)
    # Syntax errors and second statements are refused by load_layout, before any database is
    # touched; the others when the layout is compiled against the staged table.
    with pytest.raises(MappingError) as info:
        load_layout("customer.fil", tmp_path).validate(con)
    assert info.value.column == column and str(tmp_path) in str(info.value)
    assert con.execute("SELECT count(*) FROM staging.customers").fetchone()[0] == 3


def test_missing_source_table(tmp_path, con):
    (tmp_path / "customer.fil.toml").write_text(
        'file_name = "c.fil"\nsource = "staging.vendors"\n' + _col("ID", "id")
    )
    with pytest.raises(MappingError, match="staging.vendors") as info:
        load_layout("customer.fil", tmp_path).validate(con)
    assert info.value.column == "source"


def test_unknown_window_column(tmp_path, con):
    (tmp_path / "invoice.fil.toml").write_text(
        'file_name = "i.fil"\nsource = "staging.invoice_lines"\nwindow_column = "changed"\n'
        + _col("ID", "invoice_id")
    )
    with pytest.raises(MappingError) as info:
        load_layout("invoice.fil", Path(tmp_path)).validate(con)
    assert info.value.column == "window_column"
