"""The .fil writer cleans exactly the values that could break a record, and cleans them the same.

Cleaning (each run of tabs/CRs/LFs → one space, outer blanks trimmed) used to wrap every column
that was not a number, dates, JSON numbers and constants included; it is now decided from the
column types, and a clean text value skips the regular expression.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from qbpa_assets.lib.mappings import parse_layout
from qbpa_assets.lib.warehouse.filwriter import build_select, write_fil

COLUMNS = {
    "TEXT": "txt",
    "NUM": "n",
    "DAY": "d",
    "AT": "ts",
    "JSON_NUM": "j",
    "KIND": "kind",
    "BAD_KIND": "bad_kind",
}


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    c.execute(
        r"""CREATE TABLE t AS SELECT * FROM (VALUES
          (1, e'a\tb\r\nc', 1.5, DATE '2024-03-01', TIMESTAMPTZ '2024-03-01 10:00:00+00',
           json_transform('{"x": 150.0}', '{"x": "JSON"}').x,
           CAST('SalesItem' AS ENUM('SalesItem', 'Discount')),
           CAST(e'tab\there' AS ENUM(e'tab\there', 'ok'))),
          (2, '  padded  ', 2, NULL, NULL, json_transform('{"x": 150}', '{"x": "JSON"}').x,
           NULL, CAST('ok' AS ENUM(e'tab\there', 'ok'))),
          (3, 'plain', NULL, DATE '2024-12-31', NULL, NULL,
           CAST('Discount' AS ENUM('SalesItem', 'Discount')), NULL),
          (4, NULL, 0, NULL, NULL, NULL, NULL, NULL),
          (5, e'\t', 0, NULL, NULL, NULL, NULL, NULL)
        ) v(id, txt, n, d, ts, j, kind, bad_kind)"""
    )
    yield c
    c.close()


def _layout(tmp_path: Path, **options: object) -> object:
    data = {
        "file_name": "t.fil",
        "source": "t",
        "order_by": "id",
        "columns": [{"name": k, "sql": v} for k, v in COLUMNS.items()],
        **options,
    }
    return parse_layout(tmp_path / "t.fil.toml", data, name="t.fil", is_override=False)


def _parts(select: str) -> dict[str, str]:
    """Each output column's SQL, by column name (the parts end with `AS "<NAME>"`)."""
    out = {}
    for name in COLUMNS:
        marker = f'AS "{name}"'
        end = select.index(marker)
        start = max(select.rfind(f'AS "{other}"', 0, end) for other in COLUMNS)
        out[name] = select[max(start, 0) : end]
    return out


def test_only_values_that_could_break_a_record_are_cleaned(con, tmp_path):
    parts = _parts(build_select(con, _layout(tmp_path)))
    cleaned = {name for name, sql in parts.items() if "regexp_replace" in sql}
    # Text, and an ENUM with a value holding a tab; not the number, the dates, the JSON number
    # or the ENUM whose values are all plain.
    assert cleaned == {"TEXT", "BAD_KIND"}


def test_cleaned_values_are_unchanged(con, tmp_path):
    result = write_fil(con, _layout(tmp_path), tmp_path / "t.fil")
    assert result.field_counts_ok and result.rows == 5
    lines = result.path.read_bytes().decode().split("\r\n")
    assert lines[0] == "\t".join(COLUMNS)
    assert [line.split("\t") for line in lines[1:-1]] == [
        ["a b c", "1.5", "2024-03-01", "2024-03-01 10:00:00", "150.0", "SalesItem", "tab here"],
        ["padded", "2.0", "", "", "150", "", "ok"],
        ["plain", "", "2024-12-31", "", "", "Discount", ""],
        ["", "0.0", "", "", "", "", ""],
        ["", "0.0", "", "", "", "", ""],
    ]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # a format that writes outer blanks is trimmed, as before
        ({"date_format": " %Y-%m-%d "}, "2024-03-01"),
        # a format holding the delimiter: the delimiter becomes a space
        ({"date_format": "%Y;%m;%d", "delimiter": ";"}, "2024 03 01"),
    ],
)
def test_dates_are_cleaned_when_the_format_could_break_a_record(con, tmp_path, options, expected):
    layout = _layout(tmp_path, **options)
    assert "regexp_replace" in _parts(build_select(con, layout))["DAY"]
    result = write_fil(con, layout, tmp_path / "t.fil")
    delimiter = options.get("delimiter", "\t")
    first = result.path.read_bytes().decode().split("\r\n")[1].split(delimiter)
    assert first[2] == expected and result.field_counts_ok


def test_json_is_cleaned_with_another_delimiter(con, tmp_path):
    layout = _layout(tmp_path, delimiter=",")
    assert "regexp_replace" in _parts(build_select(con, layout))["JSON_NUM"]
