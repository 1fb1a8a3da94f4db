"""Raw loaders: one schema, pages checked where DuckDB loads them, bounded batches, upserts."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from qbpa_assets.lib.warehouse import raw


def page(tmp_path: Path, name: str, entity: str, rows: list[dict], **extra) -> Path:
    body = {"QueryResponse": {entity: rows, "startPosition": 1, "maxResults": len(rows)}}
    body["QueryResponse"].update(extra.pop("response", {}))
    body.update(extra)
    path = tmp_path / name
    path.write_text(json.dumps(body, separators=(",", ":")))
    return path


def inv(id_: str, token: str, doc: str = "1001", when: str = "2026-11-02T10:00:00-08:00") -> dict:
    return {
        "Id": id_,
        "SyncToken": token,
        "DocNumber": doc,
        "TxnDate": "2026-11-02",
        "MetaData": {"LastUpdatedTime": when},
    }


def cust(id_: str, active: bool | None = True) -> dict:
    row = {"Id": id_, "SyncToken": "0", "MetaData": {"LastUpdatedTime": "2026-11-02T10:00:00Z"}}
    if active is not None:
        row["Active"] = active
    return row


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_one_schema_creates_every_raw_table(con):
    raw.ensure_schema(con)
    raw.ensure_schema(con)  # idempotent
    tables = {
        f"{s}.{t}"
        for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name = 'quickbooks'"
        ).fetchall()
    }
    assert tables == set(raw.LIST_TABLES.values()) | {raw.INVOICE_TABLE}


@pytest.mark.parametrize("per_statement", [1, 20])
def test_list_table_is_replaced_whole(con, tmp_path, monkeypatch, per_statement):
    monkeypatch.setattr(raw, "PAGES_PER_STATEMENT", per_statement)
    first = [page(tmp_path, "a1.json", "Customer", [cust("1"), cust("2", False)])]
    assert raw.replace_list_table(con, "Customer", first) == 2
    pages = [
        page(tmp_path, "b1.json", "Customer", [cust("2"), cust("3", None)]),
        page(tmp_path, "b2.json", "Customer", [cust("3", None), cust("4")]),  # 3 on two pages
        page(tmp_path, "b3.json", "Customer", [], response={"maxResults": 0}),
    ]
    assert raw.replace_list_table(con, "Customer", pages) == 3
    rows = con.execute("SELECT id, active FROM quickbooks.customers ORDER BY id").fetchall()
    assert rows == [("2", True), ("3", True), ("4", True)]  # 1 is gone; no Active means active


@pytest.mark.parametrize("per_statement", [1, 20])
def test_invoices_upsert_keeps_the_newest_and_records_tombstones(
    con, tmp_path, monkeypatch, per_statement
):
    monkeypatch.setattr(raw, "PAGES_PER_STATEMENT", per_statement)
    pages = [
        page(tmp_path, "p1.json", "Invoice", [inv("1", "2", "A"), inv("2", "0")]),
        page(tmp_path, "p2.json", "Invoice", [inv("1", "1", "old"), inv("3", "0")]),
    ]
    assert raw.upsert_invoices(con, pages) == (4, 0)
    docs = dict(
        con.execute("SELECT id, payload ->> 'DocNumber' FROM quickbooks.invoices").fetchall()
    )
    assert docs == {"1": "A", "2": "1001", "3": "1001"}  # SyncToken 2 beat 1 across pages
    assert raw.upsert_invoices(con, pages) == (4, 0)  # re-landing changes nothing
    assert con.execute("SELECT count(*) FROM quickbooks.invoices").fetchone()[0] == 3

    newer = [page(tmp_path, "p3.json", "Invoice", [inv("2", "5", "B")])]
    tomb = {"Id": "3", "status": "Deleted", "MetaData": {"LastUpdatedTime": "2026-11-03T00:00:00Z"}}
    assert raw.upsert_invoices(con, newer, [tomb]) == (1, 1)
    rows = con.execute(
        "SELECT id, sync_token, deleted, payload ->> 'DocNumber', payload ->> 'status', txn_date "
        "FROM quickbooks.invoices ORDER BY id"
    ).fetchall()
    assert rows[1][:4] == ("2", "5", False, "B")
    assert rows[2][2:5] == (True, "1001", "Deleted") and str(rows[2][5]) == "2026-11-02"


def test_a_fault_in_a_page_fails_the_load_naming_the_file(con, tmp_path, monkeypatch):
    monkeypatch.setattr(raw, "PAGES_PER_STATEMENT", 1)
    good = page(tmp_path, "good.json", "Invoice", [inv("1", "0")])
    raw.upsert_invoices(con, [good])
    faulty = tmp_path / "faulty.json"
    faulty.write_text(json.dumps({"Fault": {"Error": [{"code": "3001"}], "type": "Throttle"}}))
    later = page(tmp_path, "later.json", "Invoice", [inv("1", "9", "NEW")])
    with pytest.raises(duckdb.Error, match="faulty.json holds a Fault"):
        raw.upsert_invoices(con, [faulty, later])
    assert con.execute("SELECT sync_token FROM quickbooks.invoices").fetchall() == [("0",)]

    # A list table is replaced in one transaction: a fault on its last page keeps it whole.
    raw.replace_list_table(con, "Customer", [page(tmp_path, "c.json", "Customer", [cust("7")])])
    fresh = page(tmp_path, "c2.json", "Customer", [cust("8")])
    with pytest.raises(duckdb.Error, match="holds a Fault"):
        raw.replace_list_table(con, "Customer", [fresh, faulty])
    assert con.execute("SELECT id FROM quickbooks.customers").fetchall() == [("7",)]


def test_invoice_batches_are_committed_one_by_one(con, tmp_path, monkeypatch):
    """Memory is bounded by a batch: each one is its own transaction (upserts are idempotent)."""
    monkeypatch.setattr(raw, "PAGES_PER_STATEMENT", 1)
    first = page(tmp_path, "p1.json", "Invoice", [inv("1", "0")])
    faulty = tmp_path / "faulty.json"
    faulty.write_text('{"Fault":{"Error":[{"code":"10000"}]}}')
    with pytest.raises(duckdb.Error):
        raw.upsert_invoices(con, [first, faulty])
    assert con.execute("SELECT id FROM quickbooks.invoices").fetchall() == [("1",)]
    assert raw.upsert_invoices(con, [first]) == (1, 0)  # the re-run completes it


def test_a_page_short_of_its_max_results_fails_the_load(con, tmp_path):
    short = page(tmp_path, "short.json", "Customer", [cust("1")], response={"maxResults": 2})
    with pytest.raises(duckdb.Error, match="short.json holds 1 rows, maxResults says 2"):
        raw.replace_list_table(con, "Customer", [short])


def test_page_rows_reads_the_tail_only(tmp_path):
    path = page(tmp_path, "p.json", "Invoice", [inv(str(i), "0") for i in range(7)])
    assert raw.page_rows(path) == 7


def test_invoice_merge_keeps_newer_stored_rows_and_tombstones(con, tmp_path):
    """The set-based merge: an older page never replaces a newer row nor revives a deletion."""
    raw.upsert_invoices(con, [page(tmp_path, "n.json", "Invoice", [inv("1", "3", "NEW")])])
    tomb = {"Id": "2", "status": "Deleted", "MetaData": {"LastUpdatedTime": "2026-11-03T00:00:00Z"}}
    raw.upsert_invoices(con, [page(tmp_path, "d.json", "Invoice", [inv("2", "0")])], [tomb])
    older = page(tmp_path, "o.json", "Invoice", [inv("1", "2", "OLD"), inv("2", "0", "BACK")])
    assert raw.upsert_invoices(con, [older]) == (2, 0)
    rows = con.execute(
        "SELECT id, sync_token, deleted, payload ->> 'DocNumber' FROM quickbooks.invoices "
        "ORDER BY id"
    ).fetchall()
    assert rows == [("1", "3", False, "NEW"), ("2", None, True, "1001")]


def test_relanding_the_same_version_leaves_the_stored_row_in_place(con, tmp_path):
    """A re-run rewrites nothing: same SyncToken and payload keep the stored row (and rowid)."""
    pages = [page(tmp_path, "p.json", "Invoice", [inv("1", "0"), inv("2", "0")])]
    raw.upsert_invoices(con, pages)
    before = con.execute("SELECT id, rowid FROM quickbooks.invoices ORDER BY id").fetchall()
    raw.upsert_invoices(con, pages)
    assert con.execute("SELECT id, rowid FROM quickbooks.invoices ORDER BY id").fetchall() == before
    changed = [page(tmp_path, "q.json", "Invoice", [inv("1", "0", "EDIT")])]  # same token, edited
    raw.upsert_invoices(con, changed)
    assert con.execute(
        "SELECT payload ->> 'DocNumber' FROM quickbooks.invoices WHERE id = '1'"
    ).fetchone() == ("EDIT",)


def test_new_rows_go_straight_in_and_stored_ones_are_merged(con, tmp_path, monkeypatch):
    """A batch of new Ids is inserted as it is; a later batch holding stored Ids is merged."""
    monkeypatch.setattr(raw, "PAGES_PER_STATEMENT", 1)
    pages = [
        page(tmp_path, "a.json", "Invoice", [inv("1", "0", "A0"), inv("2", "0", "B0")]),
        # Id 1 again (newer), Id 3 new: this batch holds a stored Id and is merged.
        page(tmp_path, "b.json", "Invoice", [inv("3", "0", "C0"), inv("1", "4", "A4")]),
        # Once merging, later batches are merged straight away: new rows still land, an older
        # version of a stored row does not.
        page(tmp_path, "c.json", "Invoice", [inv("4", "0", "D0"), inv("1", "2", "A2")]),
        # An Id twice in one batch of new rows: the newest SyncToken wins.
        page(tmp_path, "d.json", "Invoice", [inv("5", "1", "E1"), inv("5", "3", "E3")]),
    ]
    assert raw.upsert_invoices(con, pages) == (8, 0)
    docs = con.execute(
        "SELECT id, sync_token, payload ->> 'DocNumber' FROM quickbooks.invoices ORDER BY id"
    ).fetchall()
    assert docs == [
        ("1", "4", "A4"), ("2", "0", "B0"), ("3", "0", "C0"), ("4", "0", "D0"), ("5", "3", "E3")
    ]  # fmt: skip


def test_an_id_twice_in_a_first_batch_is_deduplicated(con, tmp_path):
    pages = [
        page(tmp_path, "a.json", "Invoice", [inv("7", "2", "NEW"), inv("8", "0")]),
        page(tmp_path, "b.json", "Invoice", [inv("7", "1", "OLD")]),
    ]
    assert raw.upsert_invoices(con, pages) == (3, 0)
    assert con.execute(
        "SELECT id, payload ->> 'DocNumber' FROM quickbooks.invoices ORDER BY id"
    ).fetchall() == [("7", "NEW"), ("8", "1001")]


def test_payloads_are_stored_zstd_compressed(tmp_path):
    """Payloads are zstd: DuckDB's own choice writes these texts ~1.6x slower, 4x bigger."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    rows = [inv(str(i), "0", doc="x" * 600 + str(i)) for i in range(3000)]
    raw.upsert_invoices(con, [page(tmp_path, "p.json", "Invoice", rows)])
    raw.replace_list_table(con, "Customer", [page(tmp_path, "c.json", "Customer", [cust("1")])])
    con.execute("CHECKPOINT")
    for table in (raw.INVOICE_TABLE, "quickbooks.customers"):
        kinds = {
            r[0]
            for r in con.execute(
                f"SELECT compression FROM pragma_storage_info('{table}') "
                "WHERE column_name = 'payload' AND segment_type = 'JSON'"
            ).fetchall()
        }
        assert kinds == {"ZSTD"}, (table, kinds)
    con.close()


def test_a_page_without_its_rows_fails_and_an_empty_page_lands_nothing(con, tmp_path):
    """maxResults is read from the page's tail: rows missing under it fail the load."""
    hollow = tmp_path / "hollow.json"
    hollow.write_text('{"QueryResponse":{"startPosition":1,"maxResults":5},"time":"x"}')
    with pytest.raises(duckdb.Error, match="hollow.json holds 0 rows, maxResults says 5"):
        raw.upsert_invoices(con, [hollow])
    empty = tmp_path / "empty.json"  # QuickBooks answers an empty page without maxResults
    empty.write_text('{"QueryResponse":{},"time":"2026-11-02T10:00:00.000-08:00"}')
    assert raw.upsert_invoices(con, [empty]) == (0, 0)
    assert raw.replace_list_table(con, "Customer", [empty]) == 0


def test_a_file_in_an_older_storage_format_keeps_working(tmp_path):
    """A file written before zstd existed refuses the clause: the tables go without it."""
    path = str(tmp_path / "old.duckdb")
    con = duckdb.connect(path, config={"storage_compatibility_version": "v0.10.2"})
    raw.ensure_schema(con)
    raw.ensure_schema(con)  # the tables exist: still no error
    pages = [page(tmp_path, "p.json", "Invoice", [inv("1", "0"), inv("2", "0")])]
    assert raw.upsert_invoices(con, pages) == (2, 0)
    assert con.execute("SELECT count(*) FROM quickbooks.invoices").fetchone()[0] == 2
    con.close()
