"""Order import end to end: a real ODBC database, real DuckDB, the real client, the emulator.

Every test that creates documents uses its own emulator (``fresh_emulator``), so entity counts
are exact and batch pacing (40/min per company) never carries over between tests.
"""

from __future__ import annotations

import logging
from collections import Counter
from importlib import resources

import pytest

from qbpa_assets.lib.orders import importer
from qbpa_assets.lib.orders.mapping import OrderMappingError, load_order_mapping
from qbpa_assets.lib.orders.payloads import order_marker
from qbpa_assets.lib.orders.report import rejects_markdown
from qbpa_assets.lib.orders.window import window_orders
from qbpa_assets_tests.fixtures.orders import END, Crash, D, make_env


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 3 so that a handful of orders spans several batch requests."""
    monkeypatch.setattr(importer, "BATCH_SIZE", 3)


def _doc_numbers(docs: list[dict]) -> Counter:
    return Counter(d.get("DocNumber") for d in docs)


def test_bad_orders_rejected_good_created_fix_then_created(
    inventiv_odbc, fresh_emulator, tmp_path, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    env = make_env(fresh_emulator, inventiv_odbc, tmp_path)
    # An item made inactive in QuickBooks (as staged): not one the good orders use.
    inactive = next(i["Id"] for i in env.emu.company.usable_items() if i["Id"] not in env.items)
    env.con.execute("UPDATE staging.items SET active = false WHERE id = ?", [inactive])
    bad_many = env.order(5, order_no="TOO-LONG-ORDER-NUMBER-5", customer_id="424242")
    bad_many.lines[0].item_id = "777777"
    bad_many.lines[1].qty = 0
    bad_fixable = env.order(6)
    bad_fixable.lines[1].item_id = inactive
    env.db.insert_orders(
        [
            env.order(1),
            env.order(2),
            env.order(3, order_no="O'Brien;DROP--"),
            env.order(4),
            bad_many,
            bad_fixable,
        ]
    )
    result = env.run()
    assert sorted(r.order_id for r in result.created) == ["1", "2", "3", "4"]
    assert {r.order_id: len(r.reasons) for r in result.rejected} == {"5": 4, "6": 1}
    reasons5 = next(r for r in result.rejected if r.order_id == "5").reasons
    assert any("customer 424242 does not exist" in r for r in reasons5)
    assert any("item 777777 does not exist" in r for r in reasons5)
    assert any("quantity 0" in r for r in reasons5)
    assert any("at most 21" in r for r in reasons5)
    assert result.batches == 1
    docs = env.docs()
    assert sorted(d["DocNumber"] for d in docs if d["DocNumber"].startswith(("SO-", "O'"))) == [
        "O'Brien;DROP--",
        "SO-0001",
        "SO-0002",
        "SO-0004",
    ]
    created = {d["DocNumber"]: d for d in docs}
    line = created["SO-0001"]["Line"][0]
    assert line["SalesItemLineDetail"]["Qty"] == 1 and line["Amount"] == 10.25
    ledger = env.ledger()
    assert ledger["1"][0] == "created" and ledger["1"][1] == created["SO-0001"]["Id"]
    assert ledger["6"][0] == "rejected" and "inactive" in ledger["6"][3][0]
    assert "| 5 |" in rejects_markdown(result)

    # Fixing the data in PocketAdvantage is enough: the next run creates it, nothing else.
    env.db.set_line(6, 2, ITEM_ID=env.items[0])
    again = env.run()
    assert [r.order_id for r in again.created] == ["6"]
    assert [r.order_id for r in again.rejected] == ["5"]
    assert again.unchanged_skipped == 4
    assert env.ledger()["6"][0] == "created"
    counts = _doc_numbers(env.docs())
    assert counts["SO-0006"] == 1 and max(counts.values()) == 1
    if env.db.password:
        assert env.db.password not in caplog.text


def test_crash_after_accept_before_ledger_write_adopts(env, small_batches) -> None:
    env.db.insert_orders([env.order(i) for i in range(1, 8)])  # batches of 3, 3, 1
    before = len(env.docs())

    def die_on_second(index: int, responses: list[dict]) -> None:
        assert len(responses) == 3
        if index == 1:
            raise Crash

    with pytest.raises(Crash):
        env.run(after_batch=die_on_second)
    assert len(env.docs()) == before + 6  # QuickBooks has batch 2 ...
    assert sorted(env.ledger()) == ["1", "2", "3"]  # ... the ledger does not

    result = env.run()
    assert sorted(r.order_id for r in result.adopted) == ["4", "5", "6"]
    assert [r.order_id for r in result.created] == ["7"]
    assert result.unchanged_skipped == 3 and result.batches == 1
    docs = env.docs()
    assert len(docs) == before + 7
    assert max(_doc_numbers(docs).values()) == 1
    ids = {d["DocNumber"]: d["Id"] for d in docs}
    ledger = env.ledger()
    assert ledger["5"][:3] == ("adopted", ids["SO-0005"], "SO-0005")
    assert {v[0] for k, v in ledger.items() if k in "123"} == {"created"}


def test_requestid_replay_guards_when_quickbooks_numbers_documents(
    env, small_batches, tmp_path
) -> None:
    # Without a mapped DocNumber nothing can be looked up: the deterministic requestid alone
    # must stop the re-sent batch from creating twice.
    mapping_file = tmp_path / "orders.toml"
    text = (resources.files("qbpa_assets") / "mappings" / "orders.toml").read_text("utf-8")
    mapping_file.write_text(text.replace('DocNumber = "o.order_no"\n', ""), encoding="utf-8")
    env.emu.set_preference("CustomTxnNumbers", False)
    env.db.insert_orders([env.order(i) for i in range(1, 6)])  # batches of 3, 2
    before = len(env.docs())

    def die_first(index: int, responses: list[dict]) -> None:
        raise Crash

    with pytest.raises(Crash):
        env.run(mapping=mapping_file, after_batch=die_first)
    first_ids = sorted(d["Id"] for d in env.docs())
    result = env.run(mapping=mapping_file)
    assert len(result.created) == 5 and not result.adopted
    assert len(env.docs()) == before + 5
    batches = env.batch_log()
    assert [b["batch_size"] for b in batches] == [3, 3, 2]
    assert batches[0]["requestid"] == batches[1]["requestid"]  # replayed, not re-created
    replayed = {r.qbo_id for r in result.created[:3]}
    assert replayed <= set(first_ids)


def test_throttling_and_server_errors_during_a_batch_are_retried(env) -> None:
    env.db.insert_orders([env.order(i) for i in range(1, 5)])
    before = len(env.docs())
    env.emu.inject_fault(status=429, count=1, path_contains="/batch")
    env.emu.inject_fault(status=500, count=1, path_contains="/batch")
    result = env.run()
    assert len(result.created) == 4
    batches = env.batch_log()
    assert [b["status"] for b in batches] == [429, 500, 200]
    assert len({b["requestid"] for b in batches}) == 1
    assert len(env.docs()) == before + 4
    assert result.api_calls == 4  # 1 look-up + 3 batch attempts


@pytest.mark.parametrize("entity", ["Invoice", "SalesReceipt"])
def test_invoice_and_sales_receipt_targets(env, entity) -> None:
    env.db.insert_orders([env.order(1), env.order(2, po_number="PO-77")])
    before = len(env.docs(entity))
    result = env.run(entity=entity)
    assert len(result.created) == 2
    made = {d["DocNumber"]: d for d in env.docs(entity)[before:]}
    assert set(made) == {"SO-0001", "SO-0002"}
    assert made["SO-0002"]["CustomerMemo"]["value"].startswith("PO PO-77")
    assert made["SO-0002"]["TotalAmt"] == pytest.approx(10.25 + 2 * 10.25)
    assert {v[4] for v in env.ledger().values()} == {entity}
    assert not [e for e in env.emu.request_log if e.get("entity") == "Estimate"]


def test_order_changed_after_create_is_reported_not_resent(env) -> None:
    env.db.insert_orders([env.order(1), env.order(2)])
    env.run()
    env.db.update_order(1, PO_NUMBER="PO-CHANGED")
    env.db.update_order(2)  # touched only: MODIFIED_AT moves, content does not
    env.emu.reset_request_log()
    result = env.run()
    changed = {c.order_id: c for c in result.changed_after_create}
    assert set(changed) == {"1", "2"}
    assert changed["1"].content_changed and not changed["2"].content_changed
    assert changed["1"].current_modified_at > changed["1"].created_from_modified_at
    assert changed["1"].doc_number == "SO-0001"
    assert not result.created and not env.batch_log()
    doc = next(d for d in env.docs() if d["DocNumber"] == "SO-0001")
    assert doc["SyncToken"] == "0"


def test_bad_mapping_fails_before_anything_is_sent(env, tmp_path) -> None:
    mapping_file = tmp_path / "orders.toml"
    text = (resources.files("qbpa_assets") / "mappings" / "orders.toml").read_text("utf-8")
    mapping_file.write_text(
        text.replace('Qty" = "l.qty"', 'Qty" = "l.qty_x"'),
        encoding="utf-8",
    )
    env.db.insert_orders([env.order(1)])
    env.emu.reset_request_log()
    with pytest.raises(OrderMappingError, match=r"\[line\] SalesItemLineDetail.Qty.*qty_x"):
        env.run(mapping=load_order_mapping(mapping_file))
    assert not [e for e in env.emu.request_log if e["op"] in ("query", "batch", "create")]


def test_duplicate_docnumber_fault_is_adopted_and_foreign_one_rejected(env, small_batches) -> None:
    env.db.insert_orders([env.order(i) for i in range(1, 7)])
    order5 = env.order(5)
    # Someone typed SO-0006 by hand in QuickBooks for another customer: never adopt that.
    other = next(c for c in env.customers if c != env.order(6).customer_id)
    foreign = env.emu.add_entity(
        "Estimate",
        {
            "DocNumber": "SO-0006",
            "CustomerRef": {"value": other},
            "TxnDate": "2026-11-20",
            "Line": [],
            "TotalAmt": 0,
        },
    )

    def race(index: int, responses: list[dict]) -> None:
        # Between our look-up and batch 2, another qbpa process creates order 5's document
        # (with order 5's marker, as qbpa writes it).
        if index == 0:
            order_hash = window_orders(env.con, D, END)["5"].order_hash
            env.emu.add_entity(
                "Estimate",
                {
                    "DocNumber": "SO-0005",
                    "PrivateNote": order_marker("5", order_hash),
                    "CustomerRef": {"value": order5.customer_id},
                    "TxnDate": "2026-11-20",
                    "Line": [],
                    "TotalAmt": 0,
                },
            )

    result = env.run(after_batch=race)
    assert sorted(r.order_id for r in result.created) == ["1", "2", "3", "4"]
    assert [r.order_id for r in result.adopted] == ["5"]
    assert [r.order_id for r in result.rejected] == ["6"]
    assert f"by Estimate {foreign['Id']} for another customer" in result.rejected[0].reasons[0]
    assert max(_doc_numbers(env.docs()).values()) == 1  # each DocNumber once


def test_quickbooks_fault_rejects_only_that_order(env) -> None:
    # Staging is stale: it still lists an item QuickBooks no longer has.
    env.con.execute("INSERT INTO staging.items VALUES ('555555', 'Ghost', 'Service', true, 1.0)")
    ghost = env.order(2)
    ghost.lines[0].item_id = "555555"
    env.db.insert_orders([env.order(1), ghost, env.order(3)])
    result = env.run()
    assert sorted(r.order_id for r in result.created) == ["1", "3"]
    (rejected,) = result.rejected
    assert rejected.order_id == "2" and rejected.reasons[0].startswith("QuickBooks refused it (")
    assert env.ledger()["2"][0] == "rejected"
