"""Order status back into the Inventiv database, and edits/cancellations reaching QuickBooks.

Real parts only: the Inventiv database through the SQLite3 and PostgreSQL ODBC drivers, DuckDB,
the real QuickBooks client against the emulator (its own per test, so counts are exact).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyodbc
import pytest

from qbpa_assets.lib.inventiv.db import InventivDb
from qbpa_assets.lib.orders import changes, edits, followup, rejects, status
from qbpa_assets.lib.orders.copy import copy_orders
from qbpa_assets.lib.orders.importer import import_orders
from qbpa_assets.lib.orders.mapping import load_order_mapping
from qbpa_assets.lib.orders.status_sql import (
    StatusMappingError,
    StatusWriteError,
    bind_named,
    status_target,
)
from qbpa_assets.lib.quickbooks.client import QboClient
from qbpa_assets.sandbox.inventiv_demo import DemoLine, DemoOrder
from qbpa_assets_tests.fixtures.odbc import InventivTestDb
from qbpa_assets_tests.fixtures.orders import END, T0, Crash, D, make_env
from qbpa_assets_tests.fixtures.orders import Env as ImportEnv

pytestmark = pytest.mark.e2e


@dataclass
class Env(ImportEnv):
    """The import tests' environment, with the order mapping's path and this module's orders."""

    mapping_path: str = field(default_factory=lambda: load_order_mapping().path)

    def order(self, order_id: int, **kw: Any) -> DemoOrder:
        lines = [
            DemoLine(self.items[(order_id + i) % len(self.items)], i + 1, Decimal("10.25"))
            for i in range(2)
        ]
        kw.setdefault("modified_at", T0)
        return DemoOrder(
            order_id,
            f"SO-{order_id:04d}",
            D,
            kw.pop("customer_id", self.customers[order_id % len(self.customers)]),
            lines,
            **kw,
        )

    def target(self):
        return status_target(self.mapping_path)

    def run(self, *, changes: bool = True, **kw: Any) -> edits.EditResult | None:
        """One order run: copy, import, apply edits/cancellations, follow QuickBooks."""
        with self.db.db() as inventiv:
            copy_orders(inventiv, self.con, D, END)
        import_orders(self.con, self.client, D, END)
        result = None
        if changes:
            result = edits.apply_changes(self.con, self.client, D, END, self.target(), **kw)
        followup.follow_documents(self.con, self.client)
        return result

    def flush(self, db: InventivDb | None = None) -> status.FlushResult:
        with db or self.db.db() as inventiv:
            return status.flush_outbox(self.con, inventiv, self.target())

    def status_table(self) -> dict[str, tuple]:
        rows = self.db.execute(
            "SELECT ORDER_ID, QBO_ID, QBO_DOC_NUMBER, STATUS, MESSAGE, INVOICE_DOC_NUMBER, "
            "UPDATED_AT FROM QBPA_ORDER_STATUS"
        )
        return {str(r[0]): tuple(r[1:]) for r in rows}

    def doc(self, doc_number: str, entity: str = "Estimate") -> dict:
        return next(d for d in self.emu.entities(entity) if d.get("DocNumber") == doc_number)

    def invoice(self, doc_number: str) -> dict:
        """Turn an Estimate into an Invoice, as a QuickBooks user does."""
        return self.emu.convert_estimate(self.doc(doc_number)["Id"], doc_number="INV-" + doc_number)

    def requests(self, op: str) -> list[dict]:
        return [e for e in self.emu.request_log if e["op"] == op]


def _env(fresh_emulator, test_db: InventivTestDb, tmp_path: Path, **settings: Any) -> Env:
    return make_env(fresh_emulator, test_db, tmp_path, Env, **settings)


@pytest.fixture
def env(fresh_emulator, sqlite_odbc_db, tmp_path):
    e = _env(fresh_emulator, sqlite_odbc_db, tmp_path)
    yield e
    e.client.close()
    e.con.close()


def test_status_rows_for_created_rejected_and_invoiced_orders(
    inventiv_odbc, fresh_emulator, tmp_path
) -> None:
    env = _env(fresh_emulator, inventiv_odbc, tmp_path)
    env.db.insert_orders([env.order(1), env.order(2), env.order(3, customer_id="424242")])
    env.run()
    first = env.flush()
    assert first.created_target and first.written == 3 and not first.error
    table = env.status_table()
    est1 = env.doc("SO-0001")
    assert table["1"][:3] == (est1["Id"], "SO-0001", "created")
    assert table["3"][2] == "rejected" and "customer 424242 does not exist" in table["3"][3]
    assert table["3"][0] is None
    # The order tables themselves are untouched by the status write.
    assert env.db.count("ORDERS") == 3

    inv = env.invoice("SO-0002")
    env.emu.reset_request_log()
    followed = followup.follow_documents(env.con, env.client)
    # A few requests, not one per order: changed documents, the invoice's number, CDC.
    assert followed.api_calls <= 3 and followed.invoices_looked_up == 1
    second = env.flush()
    assert second.written == 1  # only the row that changed
    row = env.status_table()["2"]
    assert row[2] == "invoiced" and row[4] == inv["DocNumber"]
    assert "invoiced as Invoice " + inv["DocNumber"] in row[3]
    assert env.flush().written == 0  # nothing pending: idempotent


def test_status_write_that_fails_is_kept_and_written_next_run(env, tmp_path) -> None:
    env.db.insert_orders([env.order(1), env.order(2)])
    env.run()
    # The Inventiv database is unreachable during the write (a real failed ODBC connect).
    down = InventivDb(f"Driver=SQLite3;Database={tmp_path / 'missing' / 'x.db'}", connect_retries=1)
    failed = env.flush(down)
    assert failed.error and failed.pending == 2 and failed.written == 0
    with pytest.raises(StatusWriteError, match="written by the next run"):
        status.raise_on_error(failed)
    (attempts,) = env.con.execute("SELECT max(attempts) FROM inventiv_db.order_status").fetchone()
    assert attempts == 1
    ok = env.flush()
    assert ok.written == 2 and not ok.error
    assert {r[2] for r in env.status_table().values()} == {"created"}
    # Writing the same rows again (e.g. the DuckDB mark was lost) changes nothing.
    env.con.execute("UPDATE inventiv_db.order_status SET written_hash = NULL")
    before = env.status_table()
    assert env.flush().written == 2
    assert env.status_table() == before


def test_edit_applied_to_a_pending_estimate(inventiv_odbc, fresh_emulator, tmp_path) -> None:
    env = _env(fresh_emulator, inventiv_odbc, tmp_path)
    env.db.insert_orders([env.order(1), env.order(2)])
    env.run()
    est = env.doc("SO-0001")
    env.db.set_line(1, 1, QTY=5)
    env.db.update_order(1, PO_NUMBER="PO-NEW")
    env.emu.reset_request_log()
    result = env.run()
    assert [c.order_id for c in result.by_action("updated")] == ["1"]
    after = env.doc("SO-0001")
    assert after["Id"] == est["Id"] and after["SyncToken"] == str(int(est["SyncToken"]) + 1)
    assert after["Line"][0]["SalesItemLineDetail"]["Qty"] == 5
    assert "PO PO-NEW" in after["CustomerMemo"]["value"]
    assert len([d for d in env.emu.entities("Estimate") if d["DocNumber"] == "SO-0001"]) == 1
    (batch,) = env.requests("batch")
    assert batch["requestid"].startswith("qbpe-") and len(batch["requestid"]) == 36
    env.flush()
    assert env.status_table()["1"][2] == "updated"
    assert env.status_table()["2"][2] == "created"
    # The ledger follows the edit: the importer no longer reports it, no request is repeated.
    env.emu.reset_request_log()
    again = env.run()
    assert not again.changes and not env.requests("batch")


def test_edit_refused_for_an_invoiced_estimate(env) -> None:
    env.db.insert_orders([env.order(1)])
    env.run()
    inv = env.invoice("SO-0001")
    before = env.doc("SO-0001")
    env.db.set_line(1, 2, QTY=9)
    result = env.run()
    (refused,) = result.by_action("refused")
    assert "already invoiced" in refused.message and inv["Id"] in refused.message
    assert env.doc("SO-0001")["SyncToken"] == before["SyncToken"]
    env.flush()
    row = env.status_table()["1"]
    assert row[2] == "invoiced" and row[4] == inv["DocNumber"]
    assert "not applied" in row[3]
    env.emu.reset_request_log()
    assert not env.run().changes and not env.requests("batch")  # reported once, not re-sent


def test_invalid_edit_is_not_applied(env) -> None:
    env.db.insert_orders([env.order(1)])
    env.run()
    env.db.set_line(1, 1, QTY=0)
    (invalid,) = env.run().by_action("invalid")
    assert "quantity 0 must be greater than 0" in invalid.message
    assert env.doc("SO-0001")["SyncToken"] == "0"


def test_cancelled_order_closes_its_open_estimate(env) -> None:
    env.db.insert_orders([env.order(1), env.order(2), env.order(3)])
    env.run()
    env.db.execute("DELETE FROM ORDER_LINES WHERE ORDER_ID = ?", 3)
    env.db.execute("DELETE FROM ORDERS WHERE ORDER_ID = ?", 3)
    result = env.run()
    (cancelled,) = result.by_action("cancelled")
    assert cancelled.order_id == "3"
    assert env.doc("SO-0003")["TxnStatus"] == "Closed"
    assert env.doc("SO-0001")["TxnStatus"] == "Pending"
    env.flush()
    row = env.status_table()["3"]
    assert row[2] == "cancelled" and "closed in QuickBooks" in row[3]


def test_cancel_condition_and_report_only_from_the_mapping(env, tmp_path) -> None:
    mapping = tmp_path / "orders.toml"
    mapping.write_text(
        Path(env.mapping_path).read_text(encoding="utf-8")
        + '\n[status]\non_cancel = "report"\ncancelled_sql = """SELECT ORDER_ID AS order_id '
        'FROM ORDERS WHERE NOTES = \'CANCELLED\' AND ORDER_DATE >= ? AND ORDER_DATE < ?"""\n',
        encoding="utf-8",
    )
    env.mapping_path = str(mapping)
    env.db.insert_orders([env.order(1), env.order(2)])
    env.run()
    env.db.update_order(2, NOTES="CANCELLED")
    with env.db.db() as inventiv:
        cancelled = changes.cancelled_order_ids(inventiv, env.target(), D, END)
    assert cancelled == {"2"}
    result = env.run(cancelled=cancelled)
    assert [c.order_id for c in result.by_action("cancel_reported")] == ["2"]
    assert env.doc("SO-0002")["TxnStatus"] == "Pending"  # report only
    env.flush()
    assert env.status_table()["2"][2] == "cancelled"


def test_crash_between_quickbooks_and_duckdb_adopts_the_applied_edit(env) -> None:
    env.db.insert_orders([env.order(1), env.order(2)])
    env.run()
    env.db.set_line(1, 1, QTY=4)
    env.db.set_line(2, 1, QTY=6)

    def die(index: int, responses: list[dict]) -> None:
        raise Crash

    with pytest.raises(Crash):
        env.run(after_batch=die)
    tokens = {n: env.doc(n)["SyncToken"] for n in ("SO-0001", "SO-0002")}
    assert tokens == {"SO-0001": "1", "SO-0002": "1"}  # QuickBooks has the edits
    env.emu.reset_request_log()
    result = env.run()
    assert sorted(c.order_id for c in result.by_action("updated")) == ["1", "2"]
    assert result.adopted == 2 and not env.requests("batch")  # nothing sent twice
    assert {n: env.doc(n)["SyncToken"] for n in tokens} == tokens


def test_throttling_and_server_errors_during_an_update_are_retried(env) -> None:
    env.db.insert_orders([env.order(1)])
    env.run()
    env.db.set_line(1, 1, QTY=3)
    env.emu.reset_request_log()
    env.emu.inject_fault(status=429, count=1, path_contains="/batch")
    env.emu.inject_fault(status=503, count=1, path_contains="/batch")
    result = env.run()
    assert [c.order_id for c in result.by_action("updated")] == ["1"]
    batches = env.requests("batch")
    assert [b["status"] for b in batches] == [429, 503, 200]
    assert len({b["requestid"] for b in batches}) == 1
    assert env.doc("SO-0001")["SyncToken"] == "1"


def test_answer_lost_after_commit_is_replayed_not_applied_twice(
    fresh_emulator, sqlite_odbc_db, tmp_path
) -> None:
    # QuickBooks commits the update but the answer comes too late (the client's read timeout
    # fires); the client's retry carries the same requestid and gets the original answer back.
    env = _env(fresh_emulator, sqlite_odbc_db, tmp_path, timeout=0.6)
    env.db.insert_orders([env.order(1)])
    env.run()
    env.db.set_line(1, 1, QTY=7)
    with env.db.db() as inventiv:
        copy_orders(inventiv, env.con, D, END)
    timer = threading.Timer(0.8, env.emu.set_latency, args=(0.0,))

    def slow_answers() -> None:
        env.emu.reset_request_log()
        env.emu.set_latency(1.0)
        timer.start()

    try:
        result = edits.apply_changes(
            env.con, _BeforeBatch(env.client, slow_answers), D, END, env.target()
        )
    finally:
        timer.cancel()
        env.emu.set_latency(0.0)
    (edit,) = result.by_action("updated")
    batches = env.requests("batch")
    assert len(batches) >= 2 and len({b["requestid"] for b in batches}) == 1
    doc = env.doc("SO-0001")
    assert doc["SyncToken"] == "1" and doc["Line"][0]["SalesItemLineDetail"]["Qty"] == 7
    assert edit.sync_token == "1"


class _BeforeBatch:
    """The real client; ``before()`` runs once, right before the first batch request."""

    def __init__(self, client: QboClient, before: Any) -> None:
        self._client, self._before, self.fired = client, before, False
        self.settings = client.settings

    @property
    def stats(self) -> dict[str, int]:
        return self._client.stats

    def query(self, statement: str) -> dict:
        return self._client.query(statement)

    def batch(self, items: list[dict], request_id: str) -> list[dict]:
        if not self.fired:
            self.fired = True
            self._before()
        return self._client.batch(items, request_id)


def test_stale_sync_token_is_read_again_and_retried_once(env) -> None:
    env.db.insert_orders([env.order(1)])
    env.run()
    env.db.set_line(1, 1, QTY=8)
    with env.db.db() as inventiv:
        copy_orders(inventiv, env.con, D, END)
    doc_id = env.doc("SO-0001")["Id"]
    # A QuickBooks user saves the document between our read and our batch.
    racing = _BeforeBatch(
        env.client, lambda: env.emu.update_entity("Estimate", doc_id, {"PrivateNote": "by hand"})
    )
    result = edits.apply_changes(env.con, racing, D, END, env.target())
    assert racing.fired and result.stale_retries == 1
    assert [c.order_id for c in result.by_action("updated")] == ["1"]
    doc = env.doc("SO-0001")
    assert doc["SyncToken"] == "2" and doc["Line"][0]["SalesItemLineDetail"]["Qty"] == 8


def test_status_mapping_is_checked() -> None:
    sql, names = bind_named(
        "UPDATE ORDERS SET QBO_STATUS = :status, NOTE = 'at 10:30' WHERE ORDER_ID = "
        "CAST(:order_id AS INTEGER) AND X::text = ':status'"
    )
    assert names == ["status", "order_id"]
    assert sql.count("?") == 2 and "'at 10:30'" in sql and "::text" in sql
    with pytest.raises(StatusMappingError, match=":bogus"):
        bind_named("UPDATE T SET A = :bogus")


def test_status_mapping_errors_name_the_file(tmp_path) -> None:
    bad = tmp_path / "orders.toml"
    bad.write_text('[status]\non_cancel = "void"\n', encoding="utf-8")
    with pytest.raises(StatusMappingError, match=r"orders.toml: \[status\] on_cancel: 'void'"):
        status_target(bad)
    bad.write_text("[status]\nupdate_sq = 'x'\n", encoding="utf-8")
    with pytest.raises(StatusMappingError, match="unknown key"):
        status_target(bad)


def test_status_into_the_users_own_order_table(inventiv_odbc, fresh_emulator, tmp_path) -> None:
    env = _env(fresh_emulator, inventiv_odbc, tmp_path)
    env.db.execute("ALTER TABLE ORDERS ADD COLUMN QBO_STATUS VARCHAR(16)")
    mapping = tmp_path / "orders.toml"
    # ORDER_ID is an integer column: the text order id is cast (PostgreSQL does not compare
    # integer = varchar by itself).
    mapping.write_text(
        Path(env.mapping_path).read_text(encoding="utf-8")
        + '\n[status]\nupdate_sql = "UPDATE ORDERS SET QBO_STATUS = :status '
        'WHERE ORDER_ID = CAST(:order_id AS INTEGER)"\n',
        encoding="utf-8",
    )
    env.mapping_path = str(mapping)
    env.db.insert_orders([env.order(1), env.order(2, customer_id="424242")])
    env.run()
    assert env.flush().written == 2
    rows = dict(env.db.execute("SELECT ORDER_ID, QBO_STATUS FROM ORDERS"))
    assert {str(k): v for k, v in rows.items()} == {"1": "created", "2": "rejected"}
    with pytest.raises(pyodbc.Error):  # no table of qbpa's own when the mapping points elsewhere
        env.db.execute("SELECT COUNT(*) FROM QBPA_ORDER_STATUS")


def test_invoice_target_is_invoiced_at_once_and_a_cancellation_voids_it(env) -> None:
    env.db.insert_orders([env.order(1), env.order(2)])
    with env.db.db() as inventiv:
        copy_orders(inventiv, env.con, D, END)
    import_orders(env.con, env.client, D, END, entity="Invoice")
    env.db.set_line(1, 1, QTY=3)
    env.db.execute("DELETE FROM ORDER_LINES WHERE ORDER_ID = ?", 2)
    env.db.execute("DELETE FROM ORDERS WHERE ORDER_ID = ?", 2)
    with env.db.db() as inventiv:
        copy_orders(inventiv, env.con, D, END)
    result = edits.apply_changes(env.con, env.client, D, END, env.target(), entity="Invoice")
    (refused,) = result.by_action("refused")
    assert refused.order_id == "1" and "an Invoice is not changed" in refused.message
    (cancelled,) = result.by_action("cancelled")
    assert cancelled.order_id == "2" and "voided" in cancelled.message
    assert env.doc("SO-0002", "Invoice")["TotalAmt"] == 0
    followup.follow_documents(env.con, env.client, "Invoice")
    env.flush()
    table = env.status_table()
    assert table["1"][2] == "invoiced" and table["1"][4] == "SO-0001"
    assert table["2"][2] == "cancelled"


def test_documents_closed_or_deleted_in_quickbooks_show_as_closed(env) -> None:
    env.db.insert_orders([env.order(1), env.order(2), env.order(3)])
    env.run()
    env.emu.set_estimate_status(env.doc("SO-0001")["Id"], "Rejected")
    env.emu.delete_entity("Estimate", env.doc("SO-0002")["Id"])
    result = followup.follow_documents(env.con, env.client)
    assert result.deleted == 1  # seen through CDC: a query does not return deleted documents
    env.flush()
    table = env.status_table()
    assert table["1"][2] == "closed" and "is Rejected in QuickBooks" in table["1"][3]
    assert table["2"][2] == "closed" and "deleted in QuickBooks" in table["2"][3]
    assert table["3"][2] == "created"


def test_a_rejected_order_cancelled_in_pocketadvantage_is_no_longer_an_open_reject(env) -> None:
    env.db.insert_orders([env.order(1), env.order(2, customer_id="424242")])
    env.run()
    assert [r.order_id for r in rejects.open_rejects(env.con)] == ["2"]
    env.db.execute("DELETE FROM ORDER_LINES WHERE ORDER_ID = ?", 2)
    env.db.execute("DELETE FROM ORDERS WHERE ORDER_ID = ?", 2)
    env.emu.reset_request_log()
    (withdrawn,) = env.run().by_action("cancelled")
    assert withdrawn.order_id == "2" and not env.requests("batch")
    assert rejects.open_rejects(env.con) == []
    env.flush()
    row = env.status_table()["2"]
    assert row[2] == "cancelled" and "before it reached QuickBooks" in row[3]
    # Back in PocketAdvantage (still wrong): an open reject again.
    env.db.insert_orders([env.order(2, customer_id="424242")])
    env.run()
    assert [r.order_id for r in rejects.open_rejects(env.con)] == ["2"]
    env.flush()
    assert env.status_table()["2"][2] == "rejected"
    # Fixed there: created, and its status follows.
    env.db.update_order(2, CUSTOMER_ID=env.customers[0])
    env.run()
    env.flush()
    assert env.status_table()["2"][2] == "created"


def test_a_write_failing_midway_commits_nothing_and_is_retried(
    postgres_odbc_factory, fresh_emulator, tmp_path
) -> None:
    env = _env(fresh_emulator, postgres_odbc_factory(), tmp_path)
    # A hand-made table whose STATUS is too narrow for 'rejected': the second row fails.
    env.db.execute(
        "CREATE TABLE QBPA_ORDER_STATUS (ORDER_ID VARCHAR(64) PRIMARY KEY, QBO_ID VARCHAR(32), "
        "QBO_DOC_NUMBER VARCHAR(32), STATUS VARCHAR(7), MESSAGE VARCHAR(4000), "
        "INVOICE_DOC_NUMBER VARCHAR(32), UPDATED_AT TIMESTAMP)"
    )
    env.db.insert_orders([env.order(1), env.order(2, customer_id="424242")])
    env.run()
    failed = env.flush()
    assert failed.error and failed.pending == 2
    assert env.db.count("QBPA_ORDER_STATUS") == 0  # the first row was rolled back too
    assert env.db.password not in failed.error
    env.db.execute("ALTER TABLE QBPA_ORDER_STATUS ALTER COLUMN STATUS TYPE VARCHAR(16)")
    assert env.flush().written == 2
    assert {r[2] for r in env.status_table().values()} == {"created", "rejected"}
