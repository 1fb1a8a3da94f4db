"""``staging.customers_stored`` persists the file's columns; the view has every column."""

from __future__ import annotations

import duckdb

from qbpa_assets.lib.master_data import list_sql, staging
from qbpa_assets.lib.master_data.rep_source import RepSource
from qbpa_assets_tests.fixtures.qbo_rows import build_raw

FULL = list_sql.select_sql(
    "quickbooks.customers",
    staging.CUSTOMER_SHAPE,
    "c",
    staging._CUSTOMER_COLUMNS,  # noqa: SLF001 - the one spelling of the columns
)


def test_the_view_has_every_column_with_the_values_of_the_full_select():
    c = duckdb.connect()
    build_raw(c)
    assert staging.refresh_customers(c, RepSource("class")) == 3
    got = c.execute("SELECT * FROM staging.customers").fetchall()
    full = c.execute(
        f"SELECT f.* REPLACE (s.usual_rep_id AS usual_rep_id) FROM ({FULL}) AS f "
        f"JOIN {staging.CUSTOMERS_STORED} AS s USING (id) ORDER BY TRY_CAST(f.id AS BIGINT)"
    ).fetchall()
    names = [r[0] for r in c.execute("DESCRIBE staging.customers").fetchall()]
    assert names == list_sql.column_names(staging._CUSTOMER_COLUMNS)  # noqa: SLF001
    assert got and full == got


def test_the_stored_table_holds_only_the_columns_files_and_checks_read():
    c = duckdb.connect()
    build_raw(c)
    staging.refresh_customers(c)
    stored = {r[0] for r in c.execute(f"DESCRIBE {staging.CUSTOMERS_STORED}").fetchall()}
    assert stored == set(staging.CUSTOMER_STORED_COLUMNS)
    assert "payload" not in stored


def test_a_customers_table_of_an_earlier_release_is_replaced_by_the_view():
    c = duckdb.connect()
    build_raw(c)
    staging.refresh_customers(c)
    before = c.execute("SELECT * FROM staging.customers").fetchall()
    c.execute("CREATE TABLE staging.wide AS SELECT * FROM staging.customers")
    c.execute("DROP VIEW staging.customers")
    c.execute("ALTER TABLE staging.wide RENAME TO customers")
    assert staging.refresh_customers(c) == 3
    assert c.execute("SELECT * FROM staging.customers").fetchall() == before
