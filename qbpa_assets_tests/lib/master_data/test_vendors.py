"""Vendor staging and vendor.fil: raw QuickBooks Vendor JSON → typed rows → the default layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from qbpa_assets.lib.mappings import load_layout
from qbpa_assets.lib.master_data import vendors
from qbpa_assets.lib.warehouse import raw
from qbpa_assets.lib.warehouse.filwriter import write_fil

META = {"CreateTime": "2024-01-05T09:00:00-08:00", "LastUpdatedTime": "2024-03-01T10:00:00-08:00"}


def land(con: duckdb.DuckDBPyConnection, tmp: Path, entity: str, objs: list[dict]) -> int:
    """Land objects the way the raw assets do: a QueryResponse page file, then DuckDB."""
    page = tmp / f"{entity}-{len(list(tmp.iterdir()))}.json"
    page.write_text(json.dumps({"QueryResponse": {entity: objs}}), encoding="utf-8")
    return raw.replace_list_table(con, entity, [page])


def sample_vendors() -> list[dict[str, Any]]:
    return [
        {
            "Id": "61",
            "SyncToken": "2",
            "DisplayName": "Gärtner Großhandel",
            "CompanyName": "Gärtner Großhandel GmbH",
            "GivenName": "Jörg",
            "FamilyName": "Gärtner",
            "PrimaryEmailAddr": {"Address": "einkauf@gaertner.example"},
            "PrimaryPhone": {"FreeFormNumber": "+49 30 1234"},
            "Mobile": {"FreeFormNumber": "+49 170 1"},
            "Fax": {"FreeFormNumber": "+49 30 1235"},
            "WebAddr": {"URI": "https://gaertner.example"},
            "BillAddr": {
                "Line1": "Hauptstr. 1\tHof",
                "City": "Berlin",
                "CountrySubDivisionCode": "BE",
                "PostalCode": "10115",
                "Country": "DE",
            },
            "AcctNum": "K-4711",
            "TermRef": {"value": "3", "name": "Net 30"},
            "CurrencyRef": {"value": "EUR", "name": "Euro"},
            "Balance": 150.0,
            "Vendor1099": True,
            "TaxIdentifier": "XXXXXX1234",
            "Active": True,
            "MetaData": META,
        },
        {"Id": "60", "DisplayName": "Acme Fasteners", "Balance": 0, "MetaData": META},
        {"Id": "63", "DisplayName": "Old Supplier Inc.", "Active": False, "MetaData": META},
    ]


@pytest.fixture
def con():
    con = duckdb.connect()
    yield con
    con.close()


def test_vendors_are_typed_with_names_contact_address_terms_and_flags(con, tmp_path):
    assert land(con, tmp_path, "Vendor", sample_vendors()) == 3
    assert vendors.refresh_vendors(con) == 3
    rows = con.execute(
        "SELECT id, display_name, company_name, given_name, family_name, email, phone, mobile, "
        "fax, website, bill_line1, bill_city, bill_state, bill_postal_code, bill_country, "
        "account_number, term_id, term_name, currency, balance, balance_text, vendor_1099, "
        "active FROM staging.vendors"
    ).fetchall()
    # Ordered by numeric id; inactive vendors kept; numbers as sent.
    assert [r[0] for r in rows] == ["60", "61", "63"]
    g = rows[1]
    assert g == (
        "61",
        "Gärtner Großhandel",
        "Gärtner Großhandel GmbH",
        "Jörg",
        "Gärtner",
        "einkauf@gaertner.example",
        "+49 30 1234",
        "+49 170 1",
        "+49 30 1235",
        "https://gaertner.example",
        "Hauptstr. 1\tHof",
        "Berlin",
        "BE",
        "10115",
        "DE",
        "K-4711",
        "3",
        "Net 30",
        "EUR",
        150.0,
        "150.0",
        True,
        True,
    )
    assert rows[0][19:] == (0.0, "0", False, True)
    assert rows[2][-1] is False
    # The tax identifier is personal data PocketAdvantage has no use for: never staged.
    cols = {r[0] for r in con.execute("DESCRIBE staging.vendors").fetchall()}
    assert not {c for c in cols if "tax" in c}


def test_vendor_fil_default_layout(con, tmp_path):
    land(con, tmp_path, "Vendor", sample_vendors())
    vendors.refresh_vendors(con)
    layout = load_layout("vendor.fil")
    layout.validate(con)
    result = write_fil(con, layout, tmp_path / "out" / "vendor.fil")
    lines = result.path.read_bytes().decode("utf-8").split("\r\n")
    assert lines[-1] == "" and len(lines) == 5
    header, *records = [line.split("\t") for line in lines[:-1]]
    assert header[:3] == ["VENDOR_ID", "VENDOR_NAME", "COMPANY_NAME"]
    assert {"ACCOUNT_NO", "TERMS", "CURRENCY", "BALANCE", "VENDOR_1099", "ACTIVE"} <= set(header)
    rec = dict(zip(header, records[1], strict=True))
    assert rec["VENDOR_ID"] == "61"
    assert rec["ADDR1"] == "Hauptstr. 1 Hof"  # the tab inside the value became a space
    assert (rec["ACCOUNT_NO"], rec["TERMS"], rec["CURRENCY"]) == ("K-4711", "Net 30", "EUR")
    assert (rec["BALANCE"], rec["VENDOR_1099"], rec["ACTIVE"]) == ("150.0", "Y", "Y")
    assert rec["LAST_MODIFIED"] == "2024-03-01 18:00:00"
    assert [r[header.index("ACTIVE")] for r in records] == ["Y", "Y", "N"]
    assert result.rows == 3 and result.field_counts_ok


def test_items_name_their_preferred_vendor_in_item_fil(con, tmp_path):
    from qbpa_assets.lib.master_data import staging

    items = [
        {"Id": "1", "Name": "Bolt", "Type": "Inventory", "MetaData": META,
         "PrefVendorRef": {"value": "61", "name": "Gärtner Großhandel"}},
        {"Id": "2", "Name": "Advice", "Type": "Service", "MetaData": META},
    ]  # fmt: skip
    land(con, tmp_path, "Item", items)
    assert staging.refresh_items(con) == 2
    rows = con.execute(
        "SELECT id, pref_vendor_id, pref_vendor_name FROM staging.items ORDER BY id"
    ).fetchall()
    assert rows == [("1", "61", "Gärtner Großhandel"), ("2", None, None)]
    result = write_fil(con, load_layout("item.fil"), tmp_path / "out" / "item.fil")
    header, *records = [r.split("\t") for r in result.path.read_text("utf-8").splitlines()]
    assert [r[header.index("VENDOR_ID")] for r in records] == ["61", ""]
