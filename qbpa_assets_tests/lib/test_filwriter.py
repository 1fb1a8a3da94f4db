"""The .fil writer: format, cleaning, encodings, overrides, determinism, atomicity."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import duckdb
import pytest

from qbpa_assets.lib import staging
from qbpa_assets.lib.filwriter import write_fil
from qbpa_assets.lib.mappings import DEFAULT_MAPPINGS_DIR, MappingError, load_layout
from qbpa_assets_tests.lib.test_staging import DAY1, DAY2, build_raw


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    build_raw(c)
    staging.refresh_customers(c)
    staging.refresh_items(c)
    staging.refresh_invoice_lines(c, DAY1, DAY2 + timedelta(days=1))
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
    # Tab, CR/LF inside a value become spaces, blanks trimmed, quotes kept as-is, no quoting.
    assert by_id["2"]["CUSTOMER_NAME"] == 'Tab here "quoted"  new line'
    assert by_id["2"]["COMPANY_NAME"] == "Café Müller – Zürich €"
    assert by_id["2"]["ACTIVE"] == "N" and by_id["1"]["ACTIVE"] == "Y"
    # NULL (no email) and empty (CompanyName "") both write an empty field.
    assert by_id["2"]["EMAIL"] == "" and by_id["10"]["COMPANY_NAME"] == ""
    # Numbers as QuickBooks sent them.
    assert by_id["1"]["BALANCE"] == "239.0" and by_id["2"]["BALANCE"] == "0"
    assert by_id["1"]["LAST_MODIFIED"].count(":") == 2
    assert [r[0] for r in records[1:]] == ["1", "2", "10"]  # numeric id order
    assert result.preview[1]["CUSTOMER_NAME"] == 'Tab here "quoted"  new line'
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
    assert result.rows == 6 and {r["INVOICE_ID"] for r in rows} == {"100", "101"}
    first = rows[0]
    assert first["INVOICE_DATE"] == "2024-02-28" and first["QTY"] == "1"
    assert first["AMOUNT"] == "275.0" and first["UNIT_PRICE"] == "275"
    assert first["DESCRIPTION"] == "Rock Fountain" and first["LINE_NO"] == "1"
    assert [r["LINE_NO"] for r in rows[:3]] == ["1", "2", "3"]
    assert rows[1]["GROUP_ITEM_ID"] == "12" and rows[1]["UNIT_PRICE"] == "150.0"
    assert first["INVOICE_TOTAL"] == "362.07"
    day2 = write_fil(
        con,
        layout,
        tmp_path / "d2.fil",
        where=layout.window_where(),
        params=[DAY2, DAY2 + timedelta(days=1)],
    )
    assert day2.rows == 3


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


def test_override_adds_and_renames_column(con, tmp_path):
    text = (DEFAULT_MAPPINGS_DIR / "item.fil.toml").read_text()
    text = text.replace('name = "ITEM_NAME"', 'name = "PRODUCT"')
    text += '\n[[columns]]\nname = "PRICE_X2"\nsql = "round(unit_price * 2, 2)"\n'
    text += (
        '\n[[columns]]\nname = "INCOME_ACCOUNT"\nsql = "payload->>\'$.IncomeAccountRef.name\'"\n'
    )
    (tmp_path / "item.fil.toml").write_text(text)
    layout = load_layout("item.fil", tmp_path)
    result = write_fil(con, layout, tmp_path / "out" / "item.fil")
    records = _records(result.path.read_bytes())
    assert "PRODUCT" in records[0] and "ITEM_NAME" not in records[0]
    assert records[0][-2:] == ["PRICE_X2", "INCOME_ACCOUNT"]
    rows = {r[0]: dict(zip(records[0], r, strict=True)) for r in records[1:]}
    assert rows["5"]["PRODUCT"] == "Rock Fountain" and rows["5"]["PRICE_X2"] == "550.0"
    assert rows["5"]["INCOME_ACCOUNT"] == "Sales" and rows["12"]["PRICE_X2"] == ""


def test_date_format_option(con, tmp_path):
    text = (DEFAULT_MAPPINGS_DIR / "invoice.fil.toml").read_text()
    (tmp_path / "invoice.fil.toml").write_text(
        text.replace('date_format = "%Y-%m-%d"', 'date_format = "%m/%d/%Y"')
    )
    result = write_fil(con, load_layout("invoice.fil", tmp_path), tmp_path / "i.fil")
    records = _records(result.path.read_bytes())
    assert records[1][records[0].index("INVOICE_DATE")] == "02/28/2024"


def test_bad_mapping_writes_nothing(con, tmp_path):
    (tmp_path / "customer.fil.toml").write_text(
        'file_name = "customer.fil"\nsource = "staging.customers"\n'
        '[[columns]]\nname = "ID"\nsql = "id"\n[[columns]]\nname = "X"\nsql = "nope"\n'
    )
    out = tmp_path / "out" / "customer.fil"
    out.parent.mkdir()
    out.write_bytes(b"old")
    with pytest.raises(MappingError, match="'X'"):
        write_fil(con, load_layout("customer.fil", tmp_path), out)
    assert out.read_bytes() == b"old" and [p.name for p in out.parent.iterdir()] == ["customer.fil"]
