"""Master-data staging SQL over raw QBO JSON: customers and items flattened and typed."""

from __future__ import annotations

from qbpa_assets.lib.master_data import staging
from qbpa_assets_tests.fixtures.qbo_rows import DAY3, _meta, load_raw
from qbpa_assets_tests.fixtures.qbo_rows import rows as _rows


def test_customers_flattened(raw_con):
    assert staging.refresh_customers(raw_con) == 3
    rows = {r["id"]: r for r in _rows(raw_con, "SELECT * FROM staging.customers")}
    amy = rows["1"]
    assert amy["display_name"] == "Amy's Bird Sanctuary"
    assert amy["email"] == "Birds@Intuit.com" and amy["phone"] == "(650) 555-3311"
    assert amy["bill_city"] == "Bayshore" and amy["bill_state"] == "CA"
    assert amy["sales_term_name"] == "Net 30" and amy["active"] is True
    assert amy["balance"] == 239.0 and amy["balance_text"] == "239.0"
    assert rows["2"]["active"] is False and rows["2"]["balance_text"] == "0"
    assert rows["10"]["is_job"] is True and rows["10"]["parent_id"] == "1"
    assert rows["10"]["level"] == 1
    # The contract other engineers validate orders against.
    types = dict(
        raw_con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema='staging' AND table_name='customers'"
        ).fetchall()
    )
    assert types["id"] == "VARCHAR" and types["active"] == "BOOLEAN"
    assert types["display_name"] == "VARCHAR"


def test_items_flattened_numbers_as_sent(raw_con):
    assert staging.refresh_items(raw_con) == 4
    rows = {r["id"]: r for r in _rows(raw_con, "SELECT * FROM staging.items")}
    assert rows["5"]["unit_price"] == 275.0 and rows["5"]["unit_price_text"] == "275"
    assert rows["11"]["unit_price_text"] == "150.0"
    assert rows["5"]["purchase_cost_text"] == "125.0" and rows["5"]["qty_on_hand"] == 2.0
    assert rows["12"]["type"] == "Group" and rows["12"]["unit_price"] is None
    assert rows["13"]["active"] is False
    types = dict(
        raw_con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema='staging' AND table_name='items'"
        ).fetchall()
    )
    assert types["unit_price"] == "DOUBLE" and types["name"] == "VARCHAR"


def test_refresh_replaces_master_tables(raw_con):
    staging.refresh_customers(raw_con)
    load_raw(
        raw_con,
        "customers",
        [{"Id": "77", "DisplayName": "New", "Active": True, "MetaData": _meta(DAY3)}],
    )
    assert staging.refresh_customers(raw_con) == 4
