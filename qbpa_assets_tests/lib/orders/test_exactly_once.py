"""Issue 9, cases 1–6: no order lost, none duplicated, none blocked by another.

Each test runs the real order import against the emulator through the real client, with orders
in a real ODBC database (SQLite3, or both drivers where the driver's types matter).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from qbpa_assets.lib.mappings import MappingError, load_layout
from qbpa_assets.lib.orders.mapping import OrderMappingError, load_order_mapping
from qbpa_assets.lib.orders.payloads import read_marker
from qbpa_assets.lib.quickbooks.limits import (
    BATCH_MAX_OPERATIONS,
    LINE_DESCRIPTION_MAX,
    PRIVATE_NOTE_MAX,
)
from qbpa_assets.sandbox.inventiv_demo import DemoLine
from qbpa_assets_tests.fixtures.orders import END, Crash, D, Env, make_env

pytestmark = pytest.mark.e2e


def _mapping_file(tmp_path: Path, old: str, new: str) -> Path:
    text = (resources.files("qbpa_assets") / "mappings" / "orders.toml").read_text("utf-8")
    assert old in text
    path = tmp_path / "orders.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _crash_after_first_batch(index: int, responses: list[dict]) -> None:
    raise Crash("the run died after QuickBooks accepted the batch")


# -- case 1 -----------------------------------------------------------------------------------


def test_duplicate_order_number_is_rejected_naming_the_first_order(env: Env) -> None:
    first = env.order(7, order_no="PA-DUP", n_lines=1)
    # Same customer: today's look-up would take order 7's Estimate for order 8's and adopt it.
    second = env.order(8, order_no="PA-DUP", n_lines=3, customer_id=first.customer_id)
    env.db.insert_orders([first, second, env.order(9)])
    result = env.run()
    assert sorted(r.order_id for r in result.created) == ["7", "9"]
    assert not result.adopted
    (rejected,) = result.rejected
    assert rejected.order_id == "8"
    assert rejected.reasons == ["order number PA-DUP is already used by order 7"]
    (doc,) = [d for d in env.docs() if d["DocNumber"] == "PA-DUP"]
    sales_lines = [li for li in doc["Line"] if li.get("DetailType") == "SalesItemLineDetail"]
    assert len(sales_lines) == 1 and read_marker(doc)[0] == "7"
    # Later runs keep refusing it (the ledger knows who owns the number); nothing is sent.
    again = env.run()
    assert [r.order_id for r in again.rejected] == ["8"] and again.batches == 0
    assert env.ledger()["8"][0] == "rejected"


# -- case 2 -----------------------------------------------------------------------------------


def test_doc_number_on_a_document_qbpa_did_not_create_is_rejected(env: Env) -> None:
    order = env.order(1, order_no="1001")
    hand_made = env.emu.add_entity(
        "Estimate",
        {
            "DocNumber": "1001",
            "CustomerRef": {"value": order.customer_id},  # even the same customer
            "TxnDate": D.isoformat(),
            "Line": [],
            "TotalAmt": 0,
        },
    )
    env.db.insert_orders([order])
    result = env.run()
    assert not result.adopted and not result.created
    (rejected,) = result.rejected
    reason = rejected.reasons[0]
    assert f"Estimate {hand_made['Id']}" in reason
    assert "QuickBooks document number 1001" in reason and "not created by qbpa" in reason
    assert [d["DocNumber"] for d in env.docs()].count("1001") == 1


def test_marker_is_written_by_code_whatever_the_mapping_says(env: Env, tmp_path) -> None:
    # A user's override writes only the notes into PrivateNote: the marker is still there, so
    # a crash after QuickBooks' answer is adopted on the re-run, never created twice.
    path = _mapping_file(tmp_path, "PrivateNote = ", 'PrivateNote = "o.notes"\nIgnored = ')
    mapping = load_order_mapping(path)
    mapping.header.pop("Ignored")
    env.db.insert_orders([env.order(1, notes="call first"), env.order(2)])
    with pytest.raises(Crash):
        env.run(mapping=mapping, after_batch=_crash_after_first_batch)
    result = env.run(mapping=mapping)
    assert sorted(r.order_id for r in result.adopted) == ["1", "2"] and not result.created
    doc = next(d for d in env.docs() if d["DocNumber"] == "SO-0001")
    assert read_marker(doc)[0] == "1" and doc["PrivateNote"].endswith("call first")
    assert max(Counter(d["DocNumber"] for d in env.docs()).values()) == 1


# -- case 3 -----------------------------------------------------------------------------------


def test_order_edited_between_commit_and_ledger_is_reported_changed(env: Env) -> None:
    env.db.insert_orders([env.order(1), env.order(2)])
    with pytest.raises(Crash):
        env.run(after_batch=_crash_after_first_batch)
    assert not env.ledger()  # QuickBooks has both; the ledger never heard of them
    env.db.set_line(1, 1, QTY=5)  # the rep edits order 1 before the re-run
    result = env.run()
    assert sorted(r.order_id for r in result.adopted) == ["1", "2"]
    assert [c.order_id for c in result.changed_after_create] == ["1"]
    assert result.changed_after_create[0].content_changed
    assert not result.created and result.batches == 0
    # And it stays reported: the ledger kept the content that was sent, not the new one.
    again = env.run()
    assert [c.order_id for c in again.changed_after_create] == ["1"]
    assert again.unchanged_skipped == 1


# -- cases 4 and 5 ----------------------------------------------------------------------------


def test_per_order_data_problems_reject_only_that_order(inventiv_odbc, fresh_emulator, tmp_path):
    env = make_env(fresh_emulator, inventiv_odbc, tmp_path)
    # PostgreSQL's VARCHAR(4000) columns refuse longer text; SQLite keeps it.
    long_text = 9000 if inventiv_odbc.kind == "sqlite" else 4000
    huge = env.order(4, notes="n" * long_text)
    huge.lines[0].description = "d" * (5000 if inventiv_odbc.kind == "sqlite" else 4000)
    big = env.order(2)
    big.lines[0].qty, big.lines[0].unit_price = Decimal(1000000), Decimal(10000)
    orders = [env.order(1), big, env.order(3), huge, env.order(5)]
    env.db.insert_orders(orders)
    if inventiv_odbc.kind == "sqlite":  # SQLite keeps whatever a writer stored
        env.db.execute("UPDATE ORDER_LINES SET QTY = ? WHERE ORDER_ID = 3 AND LINE_NO = 1", 1e20)
        env.db.execute("UPDATE ORDER_LINES SET QTY = ? WHERE ORDER_ID = 5 AND LINE_NO = 2", "abc")
    result = env.run()  # never a failed run
    rejected = {r.order_id: r.reasons for r in result.rejected}
    assert (
        "line 1: quantity 1000000 × price 10000 = 10000000000.0 is more than" in (rejected["2"][0])
    )
    if inventiv_odbc.kind == "sqlite":
        assert sorted(r.order_id for r in result.created) == ["1", "4"]
        assert rejected["3"] == [
            "line 1: quantity '100000000000000000000' is not a number QuickBooks accepts "
            "(at most 14 digits before the point)"
        ]
        # The SQLite driver hands 'abc' in a NUMERIC column over as NULL.
        assert rejected["5"] == ["line 2: quantity is missing or not a number"]
    else:
        assert sorted(r.order_id for r in result.created) == ["1", "3", "4", "5"]
    # Huge text: shortened where harmless, and said so in the ledger.
    doc = next(d for d in env.docs() if d["DocNumber"] == "SO-0004")
    assert len(doc["PrivateNote"]) == PRIVATE_NOTE_MAX and read_marker(doc)[0] == "4"
    assert len(doc["Line"][0]["Description"]) <= LINE_DESCRIPTION_MAX
    (warnings,) = env.con.execute(
        "SELECT warnings FROM quickbooks.sales_orders WHERE order_id = '4'"
    ).fetchone()
    assert warnings[-1].startswith("PrivateNote shortened from")
    if inventiv_odbc.kind == "sqlite":
        assert warnings[0] == "line 1: description shortened from 5000 to 4000 characters"
    assert all(len(e["items"]) <= BATCH_MAX_OPERATIONS for e in env.batch_log() if "items" in e)


def test_mapping_failing_on_one_order_rejects_it_naming_the_field(env: Env, tmp_path) -> None:
    # A user's Amount expression overflows for one order only (a DuckDB error at run time).
    path = _mapping_file(
        tmp_path,
        'Amount = "round(l.qty * l.unit_price, 2)"',
        'Amount = "round((l.qty * 10000000000000)::DECIMAL(18,2), 2)"',
    )
    big = env.order(2)
    big.lines = [DemoLine(env.items[0], 1000, Decimal("1"), "bulk")]
    small = env.order(1)
    small.lines = [DemoLine(env.items[0], Decimal("0.0001"), Decimal("1"), "tiny")]
    env.db.insert_orders([small, big])
    result = env.run(mapping=load_order_mapping(path))
    assert [r.order_id for r in result.created] == ["1"]
    (rejected,) = result.rejected
    assert rejected.order_id == "2"
    assert rejected.reasons[0].startswith("QuickBooks field Amount ([line] of the order mapping)")


def test_long_doc_number_from_the_mapping_is_rejected_before_sending(env: Env, tmp_path) -> None:
    path = _mapping_file(
        tmp_path,
        'DocNumber = "o.order_no"',
        "DocNumber = \"'PA-2026-11-' || o.order_no || '-XYZ'\"",
    )
    env.db.insert_orders([env.order(1)])
    env.emu.reset_request_log()
    result = env.run(mapping=load_order_mapping(path))
    (rejected,) = result.rejected
    assert rejected.reasons == [
        "mapped DocNumber PA-2026-11-SO-0001-XYZ is 22 characters; QuickBooks allows at most 21"
    ]
    assert not env.batch_log()


# -- case 6 -----------------------------------------------------------------------------------


def test_sql_injection_in_an_order_mapping_is_refused_and_the_ledger_survives(
    env: Env, tmp_path
) -> None:
    env.db.insert_orders([env.order(1)])
    assert [r.order_id for r in env.run().created] == ["1"]
    before = env.ledger()
    path = _mapping_file(
        tmp_path,
        "PrivateNote = ",
        'PrivateNote = "1); DROP TABLE quickbooks.sales_orders; --"\nOld = ',
    )
    with pytest.raises(OrderMappingError) as info:
        load_order_mapping(path)
    message = str(info.value)
    assert str(path) in message and "[header] PrivateNote" in message
    assert "more than one SQL statement" in message
    env.emu.reset_request_log()
    with pytest.raises(OrderMappingError):
        env.run(mapping=path)
    assert env.ledger() == before
    assert env.con.execute("SELECT count(*) FROM staging.items").fetchone()[0] > 0
    assert not env.emu.request_log


@pytest.mark.parametrize(
    "sql",
    ["1); DROP TABLE staging.items; --", "id), (SELECT 1", "id) FROM staging.items WHERE (1"],
)
def test_sql_injection_in_a_fil_layout_is_refused_at_load(env: Env, tmp_path, sql) -> None:
    (tmp_path / "item.fil.toml").write_text(
        'file_name = "item.fil"\nsource = "staging.items"\n'
        f"[[columns]]\nname = 'ITEM_ID'\nsql = 'id'\n[[columns]]\nname = 'X'\nsql = {sql!r}\n"
    )
    with pytest.raises(MappingError) as info:
        load_layout("item.fil", tmp_path)
    assert info.value.column == "X" and str(tmp_path / "item.fil.toml") in str(info.value)
    assert env.con.execute("SELECT count(*) FROM staging.items").fetchone()[0] > 0


def test_bad_order_date_is_rejected_not_lost(env: Env) -> None:
    env.db.insert_orders([env.order(1), env.order(2)])
    env.db.execute("UPDATE ORDERS SET ORDER_DATE = ? WHERE ORDER_ID = 2", f"{D} 25:61")
    result = env.run()
    assert [r.order_id for r in result.created] == ["1"]
    (rejected,) = result.rejected
    # The SQLite driver reads this date as NULL: the order is rejected, never lost.
    assert rejected.reasons == ["order date is missing or not a date"]
    assert rejected.order_date == D and END > D
