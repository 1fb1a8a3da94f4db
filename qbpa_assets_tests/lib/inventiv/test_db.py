"""InventivDb through real ODBC drivers (SQLite3 and PostgreSQL Unicode)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from importlib import resources

import pytest

from qbpa_assets.defs.resources.inventiv_db import InventivDbResource
from qbpa_assets.lib.inventiv.db import (
    InventivDb,
    InventivDbError,
    mask_connection_string,
    odbc_brace,
)
from qbpa_assets.lib.orders.mapping import load_order_mapping
from qbpa_assets.lib.orders.new_orders import fetch_new_orders
from qbpa_assets.sandbox.inventiv_demo import DemoLine, DemoOrder, sqlite_connection_string
from qbpa_assets_tests.fixtures.odbc import one_line_order

T0 = datetime(2026, 11, 20, 10, 0, 0)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("Driver=X;Uid=u;PWD=hunter2;Database=d", "Driver=X;Uid=u;PWD=***;Database=d"),
        ("Driver=X;pwd = {a;b}}c};Server=s", "Driver=X;pwd=***;Server=s"),
        ("Driver=X;Password=p@ss", "Driver=X;Password=***"),
        ("Driver=SQLite3;Database=/x.db", "Driver=SQLite3;Database=/x.db"),
    ],
)
def test_mask_connection_string(raw: str, masked: str) -> None:
    assert mask_connection_string(raw) == masked


def test_odbc_brace_escapes_closing_brace() -> None:
    assert odbc_brace("a}b;c") == "{a}}b;c}"


def test_injection_shaped_values_are_data(inventiv_odbc) -> None:
    evil = "X'; DROP TABLE ORDERS; --"
    inventiv_odbc.insert_orders(
        [
            DemoOrder(
                1,
                evil,
                date(2026, 11, 20),
                "1' OR '1'='1",
                [DemoLine("2", 1, 1)],
                notes='"; DELETE FROM ORDER_LINES; --',
                modified_at=T0,
            ),
        ]
    )
    with inventiv_odbc.db() as db:
        names, rows = db.fetch_all(
            load_order_mapping().orders_sql, [date(2026, 11, 20), date(2026, 11, 21)]
        )
    row = dict(zip(names, rows[0], strict=True))
    assert row["order_no"] == evil
    assert row["customer_id"] == "1' OR '1'='1"
    assert inventiv_odbc.count("ORDERS") == 1 and inventiv_odbc.count("ORDER_LINES") == 1


def test_bad_sql_error_names_statement(sqlite_odbc_db) -> None:
    with sqlite_odbc_db.db() as db, pytest.raises(InventivDbError, match="NO_SUCH_TABLE"):
        db.fetch_all("SELECT * FROM NO_SUCH_TABLE")


def test_query_timeout_is_applied(sqlite_odbc_db) -> None:
    with sqlite_odbc_db.db(timeout=7) as db:
        assert db.connect().timeout == 7


def test_postgres_password_never_in_errors_or_logs(postgres_odbc_factory, caplog) -> None:
    test_db = postgres_odbc_factory()
    caplog.set_level(logging.DEBUG)
    # The right password (with ; } { = ' " and a space) connects: the escaping works.
    with test_db.db() as db:
        assert db.fetch_all("SELECT COUNT(*) FROM ORDERS")[1] == [(0,)]
    wrong = "Wr0ng;pa}ss" + test_db.password
    db = InventivDb(test_db.connection_string + ";PWD=inline-secret", password=wrong)
    with pytest.raises(InventivDbError) as info:
        db.connect()
    message = str(info.value)
    assert "authentication failed" in message.lower() or "password" in message.lower()
    for secret in (wrong, test_db.password, "inline-secret"):
        assert secret not in message
        assert secret not in repr(db)
        assert secret not in caplog.text
    assert "PWD=***" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert "after 1 attempt" in message  # a refused login is not retried


def test_transient_connect_errors_are_retried(postgres_server, caplog) -> None:
    caplog.set_level(logging.WARNING)
    closed_port = postgres_server.port + 1 if postgres_server.port < 65535 else 1025
    conn_str = (
        f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={closed_port};Database=x;Uid=nobody"
    )
    db = InventivDb(conn_str, password="pw-secret", timeout=2, connect_retries=2)
    with pytest.raises(InventivDbError, match="after 2 attempt"):
        db.connect()
    assert "retrying" in caplog.text
    assert "pw-secret" not in caplog.text


def test_missing_connection_string_is_named() -> None:
    with pytest.raises(InventivDbError, match="INVENTIV_DB_CONNECTION"):
        InventivDb("")
    resource = InventivDbResource()
    with pytest.raises(InventivDbError, match="INVENTIV_DB_CONNECTION"), resource.get_db():
        pass


def test_resource_opens_db_and_mapping_override(sqlite_odbc_db, tmp_path) -> None:
    sqlite_odbc_db.insert_orders([one_line_order(1, T0)])
    override = tmp_path / "maps"
    override.mkdir()
    default = resources.files("qbpa_assets") / "mappings" / "orders.toml"
    custom = default.read_text(encoding="utf-8").replace(
        "WHERE MODIFIED_AT >= ?", "WHERE MODIFIED_AT >= ? AND ORDER_ID > 100"
    )
    (override / "orders.toml").write_text(custom, encoding="utf-8")
    plain = InventivDbResource(connection_string=sqlite_odbc_db.connection_string)
    with plain.get_db() as db:
        assert [o.order_id for o in fetch_new_orders(db, plain.mapping(), None)] == [1]
    overridden = InventivDbResource(
        connection_string=sqlite_odbc_db.connection_string, mappings_dir=str(override)
    )
    with overridden.get_db() as db:
        assert fetch_new_orders(db, overridden.mapping(), None) == []


def test_sqlite_connection_string_refuses_semicolon(tmp_path) -> None:
    with pytest.raises(ValueError, match="';'"):
        sqlite_connection_string(tmp_path / "a;b.db")
