"""The .fil writer: format, cleaning, encodings, overrides, determinism, atomicity."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from qbpa_assets.lib.invoices.staging import refresh_invoice_lines
from qbpa_assets.lib.mappings import DEFAULT_MAPPINGS_DIR, MappingError, load_layout
from qbpa_assets.lib.master_data.staging import refresh_customers, refresh_items
from qbpa_assets.lib.warehouse.filwriter import write_fil
from qbpa_assets_tests.fixtures.qbo_rows import (
    DAY1,
    DAY2,
    STATUS_OF_STATUS_INVOICES,
    build_raw,
    status_invoices,
)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    build_raw(c)
    refresh_customers(c)
    refresh_items(c)
    refresh_invoice_lines(c, DAY1, DAY2 + timedelta(days=1))
    yield c
    c.close()


def _records(data: bytes, encoding: str = "utf-8") -> list[list[str]]:
    text = data.decode(encoding)
    assert text.endswith("\r\n")
    lines = text.split("\r\n")[:-1]
    assert all("\n" not in line and "\r" not in line for line in lines)
    return [line.split("\t") for line in lines]


def test_customer_fil_format_and_cleaning(con, tmp_path):
    layout = load_layout("customer.fil")
    result = write_fil(con, layout, tmp_path / "out" / "customer.fil")
    data = result.path.read_bytes()
    records = _records(data)
    assert records[0] == list(layout.column_names)
    assert all(len(r) == len(layout.columns) for r in records)
    assert result.rows == 3 and len(records) == 4 and result.field_counts_ok
    assert result.bytes == len(data) and result.sha256 == hashlib.sha256(data).hexdigest()
    by_id = {r[0]: dict(zip(records[0], r, strict=True)) for r in records[1:]}
    # A tab, or CR/LF, inside a value becomes a single space, blanks trimmed, quotes kept
    # as-is, no quoting.
    assert by_id["2"]["CUSTOMER_NAME"] == 'Tab here "quoted" new line'
    assert by_id["2"]["COMPANY_NAME"] == "Café Müller – Zürich €"
    assert by_id["2"]["ACTIVE"] == "N" and by_id["1"]["ACTIVE"] == "Y"
    # NULL (no email) and empty (CompanyName "") both write an empty field.
    assert by_id["2"]["EMAIL"] == "" and by_id["10"]["COMPANY_NAME"] == ""
    # Numbers as QuickBooks sent them.
    assert by_id["1"]["BALANCE"] == "239.0" and by_id["2"]["BALANCE"] == "0"
    assert by_id["1"]["LAST_MODIFIED"].count(":") == 2
    assert [r[0] for r in records[1:]] == ["1", "2", "10"]  # numeric id order
    assert result.preview[1]["CUSTOMER_NAME"] == 'Tab here "quoted" new line'
    assert result.preview[1]["EMAIL"] == "" and len(result.preview) == 3
    assert result.replaced == 0


def test_very_long_value(con, tmp_path):
    layout = load_layout("customer.fil", None)
    text = (DEFAULT_MAPPINGS_DIR / "customer.fil.toml").read_text()
    over = tmp_path / "maps"
    over.mkdir()
    (over / "customer.fil.toml").write_text(text + '\n[[columns]]\nname = "NOTES"\nsql = "notes"\n')
    layout = load_layout("customer.fil", over)
    result = write_fil(con, layout, tmp_path / "c.fil")
    records = _records(result.path.read_bytes())
    assert {len(r) for r in records} == {len(layout.columns)}
    assert records[2][-1] == "x" * 5000


def test_item_fil_numbers_as_sent(con, tmp_path):
    result = write_fil(con, load_layout("item.fil"), tmp_path / "item.fil")
    records = _records(result.path.read_bytes())
    rows = {r[0]: dict(zip(records[0], r, strict=True)) for r in records[1:]}
    assert rows["5"]["UNIT_PRICE"] == "275" and rows["11"]["UNIT_PRICE"] == "150.0"
    assert rows["5"]["COST"] == "125.0" and rows["12"]["UNIT_PRICE"] == ""
    assert result.field_counts_ok and result.rows == 4


def test_invoice_fil_window(con, tmp_path):
    layout = load_layout("invoice.fil")
    result = write_fil(
        con, layout, tmp_path / "invoice.fil", where=layout.window_where(), params=[DAY1, DAY2]
    )
    records = _records(result.path.read_bytes())
    header = records[0]
    rows = [dict(zip(header, r, strict=True)) for r in records[1:]]
    assert result.rows == 8 and {r["INVOICE_ID"] for r in rows} == {"100", "101"}
    first = rows[0]
    assert first["INVOICE_DATE"] == "2024-02-28" and first["QTY"] == "1"
    assert first["AMOUNT"] == "275.0" and first["UNIT_PRICE"] == "275"
    assert first["DESCRIPTION"] == "Rock Fountain" and first["LINE_NO"] == "1"
    assert [r["LINE_NO"] for r in rows[:5]] == ["1", "2", "3", "4", "1"]
    assert [r["LINE_TYPE"] for r in rows[:4]] == ["SalesItem"] * 3 + ["Discount"]
    assert rows[1]["GROUP_ITEM_ID"] == "12" and rows[1]["UNIT_PRICE"] == "150.0"
    discount = rows[3]
    assert discount["AMOUNT"] == "212.93" and discount["ITEM_ID"] == "" and discount["QTY"] == ""
    assert first["INVOICE_TOTAL"] == "362.07" and {r["STATUS"] for r in rows} == {"Open"}
    day2 = write_fil(
        con,
        layout,
        tmp_path / "d2.fil",
        where=layout.window_where(),
        params=[DAY2, DAY2 + timedelta(days=1)],
    )
    assert day2.rows == 4


def test_invoice_fil_status_discount_and_deleted(tmp_path):
    c = duckdb.connect()
    build_raw(c, status_invoices())
    refresh_invoice_lines(c, DAY1, DAY2)
    layout = load_layout("invoice.fil")
    result = write_fil(
        c, layout, tmp_path / "invoice.fil", where=layout.window_where(), params=[DAY1, DAY2]
    )
    records = _records(result.path.read_bytes())
    assert {"STATUS", "LINE_TYPE", "DISCOUNT_PERCENT"} <= set(records[0])
    rows = [dict(zip(records[0], r, strict=True)) for r in records[1:]]
    status = {r["INVOICE_ID"]: r["STATUS"] for r in rows}
    assert status == STATUS_OF_STATUS_INVOICES
    [tomb] = [r for r in rows if r["INVOICE_ID"] == "204"]
    line_columns = ["LINE_NO", "LINE_ID", "LINE_TYPE", "ITEM_ID", "QTY", "AMOUNT", "DESCRIPTION"]
    assert all(tomb[col] == "" for col in line_columns)
    assert tomb["LAST_MODIFIED"] == "2024-03-01 12:00:00"
    [disc] = [r for r in rows if r["INVOICE_ID"] == "201" and r["LINE_TYPE"] == "Discount"]
    assert disc["DISCOUNT_PERCENT"] == "10" and disc["AMOUNT"] == "212.93"
    assert result.field_counts_ok and result.rows == 22


def test_empty_window_writes_header_only(con, tmp_path):
    layout = load_layout("invoice.fil")
    far = DAY1 + timedelta(days=400)
    result = write_fil(
        con,
        layout,
        tmp_path / "invoice.fil",
        where=layout.window_where(),
        params=[far, far + timedelta(days=1)],
    )
    assert result.rows == 0 and result.preview == [] and result.field_counts_ok
    assert result.path.read_bytes() == "\t".join(layout.column_names).encode() + b"\r\n"


def test_rerun_is_byte_identical_and_atomic(con, tmp_path):
    layout = load_layout("invoice.fil")
    out = tmp_path / "invoice.fil"
    first = write_fil(con, layout, out)
    second = write_fil(con, layout, out)
    assert first.sha256 == second.sha256 and first.bytes == second.bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["invoice.fil"]  # no temp files left


def test_cp1252_with_replacement_count(con, tmp_path):
    text = (DEFAULT_MAPPINGS_DIR / "customer.fil.toml").read_text()
    over = tmp_path / "maps"
    over.mkdir()
    text = text.replace('encoding = "utf-8"', 'encoding = "cp1252"')
    (over / "customer.fil.toml").write_text(
        text + "\n[[columns]]\nname = \"EXTRA\"\nsql = \"CASE WHEN id = '2' THEN '日本 ok' END\"\n"
    )
    layout = load_layout("customer.fil", over)
    assert layout.encoding == "cp1252"
    result = write_fil(con, layout, tmp_path / "c.fil")
    raw = result.path.read_bytes()
    records = _records(raw, "cp1252")
    by_id = {r[0]: r for r in records[1:]}
    # é ü – € exist in cp1252; the two CJK characters do not and become "?".
    assert "Café Müller – Zürich €" in by_id["2"]
    assert by_id["2"][-1] == "?? ok" and result.replaced == 2
    assert "€".encode("cp1252") in raw and result.field_counts_ok


def test_date_and_timestamp_formats_option(con, tmp_path):
    con.execute("SET TimeZone = 'UTC'")  # timestamps print in the session time zone
    text = (DEFAULT_MAPPINGS_DIR / "invoice.fil.toml").read_text()
    text = text.replace('date_format = "%Y-%m-%d"', 'date_format = "%m/%d/%Y"')
    text = text.replace(
        'timestamp_format = "%Y-%m-%d %H:%M:%S"', 'timestamp_format = "%d.%m.%Y %H.%M"'
    )
    (tmp_path / "invoice.fil.toml").write_text(text)
    result = write_fil(con, load_layout("invoice.fil", tmp_path), tmp_path / "i.fil")
    records = _records(result.path.read_bytes())
    row = dict(zip(records[0], records[1], strict=True))
    assert row["INVOICE_DATE"] == "02/28/2024" and row["DUE_DATE"] == "03/29/2024"
    assert row["LAST_MODIFIED"] == "01.03.2024 10.00"
    default = _records(
        write_fil(con, load_layout("invoice.fil"), tmp_path / "d.fil").path.read_bytes()
    )
    row = dict(zip(default[0], default[1], strict=True))
    assert row["INVOICE_DATE"] == "2024-02-28" and row["LAST_MODIFIED"] == "2024-03-01 10:00:00"


DOCS = Path(__file__).resolve().parents[3] / "docs" / "mappings.md"


def _docs_example() -> str:
    """The TOML block under "Example: add a column and rename another" in docs/mappings.md."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Example: add a column and rename another") :]
    start = section.index("```toml\n") + len("```toml\n")
    return section[start : section.index("```\n", start)]


def test_docs_override_example_adds_and_renames_columns(con, tmp_path):
    """The documented override, loaded verbatim from docs/mappings.md, does what it says."""
    default = load_layout("item.fil")
    (tmp_path / "item.fil.toml").write_text(_docs_example(), encoding="utf-8")
    layout = load_layout("item.fil", tmp_path)
    assert layout.is_override and layout.file_name == "item.fil"
    result = write_fil(con, layout, tmp_path / "out" / "item.fil")
    records = _records(result.path.read_bytes())
    header = records[0]
    # Renamed: ITEM_NAME -> PRODUCT; added: PRICE_X2 and INCOME_ACCOUNT.
    assert "ITEM_NAME" in default.column_names and "ITEM_NAME" not in header
    assert "PRODUCT" in header and "PRODUCT" not in default.column_names
    assert {"PRICE_X2", "INCOME_ACCOUNT"} <= set(header) - set(default.column_names)
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in records[1:]}
    assert rows["5"]["PRODUCT"] == "Rock Fountain" and rows["5"]["PRICE_X2"] == "550.0"
    assert rows["5"]["UNIT_PRICE"] == "275" and rows["11"]["PRICE_X2"] == "300.0"
    assert rows["5"]["INCOME_ACCOUNT"] == "Sales" and rows["12"]["PRICE_X2"] == ""
    assert result.field_counts_ok and {len(r) for r in records} == {len(header)}


def test_numbers_use_a_dot_and_no_thousands_separator(con, tmp_path):
    (tmp_path / "item.fil.toml").write_text(
        'file_name = "item.fil"\nsource = "staging.items"\norder_by = "id"\n'
        '[[columns]]\nname = "ID"\nsql = "id"\n'
        '[[columns]]\nname = "BIG"\nsql = "1234567.25 + coalesce(unit_price, 0)"\n'
        '[[columns]]\nname = "DEC"\nsql = "CAST(9876543.5 AS DECIMAL(12, 2))"\n'
        '[[columns]]\nname = "INT"\nsql = "CAST(12345678 AS BIGINT)"\n'
    )
    result = write_fil(con, load_layout("item.fil", tmp_path), tmp_path / "i.fil")
    assert _records(result.path.read_bytes())[1:] == [
        ["11", "1234717.25", "9876543.50", "12345678"],
        ["12", "1234567.25", "9876543.50", "12345678"],
        ["13", "1234642.25", "9876543.50", "12345678"],
        ["5", "1234842.25", "9876543.50", "12345678"],
    ]


def test_field_count_mismatch_is_detected(con, tmp_path):
    """Numbers are not cleaned: with "." as the delimiter a price splits its record."""
    head = 'file_name = "item.fil"\nsource = "staging.items"\ndelimiter = "."\n'
    (tmp_path / "item.fil.toml").write_text(
        head + '[[columns]]\nname = "ID"\nsql = "id"\n[[columns]]\nname = "P"\nsql = "unit_price"\n'
    )
    result = write_fil(con, load_layout("item.fil", tmp_path), tmp_path / "i.fil")
    assert not result.field_counts_ok and result.preview == []
    # Text is cleaned: a delimiter inside it becomes a space.
    (tmp_path / "item.fil.toml").write_text(
        head + '[[columns]]\nname = "ID"\nsql = "id"\n[[columns]]\nname = "N"\n'
        "sql = \"name || '.x'\"\n"
    )
    result = write_fil(con, load_layout("item.fil", tmp_path), tmp_path / "j.fil")
    assert result.field_counts_ok
    assert {r["ID"]: r["N"] for r in result.preview}["5"] == "Rock Fountain x"


_HEAD = 'file_name = "customer.fil"\nsource = "staging.customers"\n'
_ID = '[[columns]]\nname = "ID"\nsql = "id"\n'
BAD_MAPPINGS = [
    ("unknown column", _HEAD + _ID + '[[columns]]\nname = "X"\nsql = "nope"\n', "X"),
    ("SQL error", _HEAD + _ID + '[[columns]]\nname = "X"\nsql = "upper(id"\n', "X"),
    ("duplicate name", _HEAD + _ID + '[[columns]]\nname = "id"\nsql = "email"\n', "id"),
    ("unknown option", _HEAD + 'encodnig = "cp1252"\n' + _ID, "encodnig"),
]


@pytest.mark.parametrize(("case", "text", "column"), BAD_MAPPINGS, ids=[b[0] for b in BAD_MAPPINGS])
def test_bad_mapping_writes_nothing(con, tmp_path, case, text, column):
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "customer.fil.toml").write_text(text)
    out = tmp_path / "out" / "customer.fil"
    out.parent.mkdir()
    out.write_bytes(b"old")
    with pytest.raises(MappingError) as info:
        write_fil(con, load_layout("customer.fil", maps), out)
    assert str(maps / "customer.fil.toml") in str(info.value)
    assert info.value.column == column and repr(column) in str(info.value)
    assert out.read_bytes() == b"old" and [p.name for p in out.parent.iterdir()] == ["customer.fil"]
