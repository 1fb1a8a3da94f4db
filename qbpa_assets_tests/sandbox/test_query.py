"""The query language: parser units, then behaviour through python-quickbooks."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
import requests
from quickbooks.exceptions import ValidationException
from quickbooks.objects.customer import Customer
from quickbooks.objects.item import Item

from qbpa_assets.sandbox.query import QueryError, instant, parse_query
from qbpa_assets_tests.fixtures.emulator import make_quickbooks


@pytest.fixture(scope="module")
def qb(qbo_emulator):
    return make_quickbooks(qbo_emulator)


@pytest.mark.parametrize(
    ("text", "entity", "start", "maximum", "order"),
    [
        ("select * from Customer", "Customer", 1, 100, ()),
        ("SELECT * FROM invoice STARTPOSITION 11 MAXRESULTS 5", "invoice", 11, 5, ()),
        ("SELECT *, Sku FROM Item ORDER BY Name DESC", "Item", 1, 100, ((("Name",), True),)),
        ("select * from Item orderby Id asc maxresults 1000", "Item", 1, 1000, ((("Id",), False),)),
    ],
)
def test_parse_shapes(text, entity, start, maximum, order):
    query = parse_query(text)
    assert (query.entity, query.start_position, query.max_results, query.order) == (
        entity,
        start,
        maximum,
        order,
    )


def test_parse_where_values():
    query = parse_query(
        "select * from Customer where DisplayName = 'O\\'Brien' and Active IN (true, false) "
        "and Balance >= 10.5 and MetaData.LastUpdatedTime < '2026-01-01T00:00:00-08:00'"
    )
    values = [(c.path, c.op, c.values) for c in query.conditions]
    assert values == [
        (("DisplayName",), "=", ("O'Brien",)),
        (("Active",), "IN", (True, False)),
        (("Balance",), ">=", (10.5,)),
        (("MetaData", "LastUpdatedTime"), "<", ("2026-01-01T00:00:00-08:00",)),
    ]
    assert query.mentions_active


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("select * form Customer", "4000"),
        ("select * from Customer where", "4000"),
        ("select * from Customer where Name = 'a' or Id = '1'", "4000"),
        ("select * from Customer where Name != 'a'", "4000"),
        ("select * from Customer maxresults 1001", "4001"),
        ("select * from Customer startposition 0", "4001"),
    ],
)
def test_parse_errors(text, code):
    with pytest.raises(QueryError) as err:
        parse_query(text)
    assert err.value.code == code


def test_instant_compares_offsets():
    assert instant("2026-11-24T10:00:00-08:00") == instant("2026-11-24T18:00:00Z")
    assert instant("2026-11-24T10:00:00-08:00") > instant("2026-11-24T17:59:59+00:00")


def test_paging_returns_every_invoice_once(qb, qbo_emulator):
    expected = sorted(int(i["Id"]) for i in qbo_emulator.entities("Invoice"))
    seen, start = [], 1
    while True:
        resp = qb.query(f"select * from Invoice startposition {start} maxresults 7")[
            "QueryResponse"
        ]
        if not resp:
            break
        assert resp["startPosition"] == start
        assert resp["maxResults"] == len(resp["Invoice"])
        seen += [int(i["Id"]) for i in resp["Invoice"]]
        start += 7
    assert seen == expected


def test_count_and_empty_result(qb):
    total = qb.query("select count(*) from Invoice")["QueryResponse"]["totalCount"]
    assert total == len(
        qb.query("select * from Invoice maxresults 1000")["QueryResponse"]["Invoice"]
    )
    empty = qb.query("select * from Invoice where DocNumber = 'no-such'")
    assert empty["QueryResponse"] == {}
    assert "time" in empty


def test_inactive_rows_hidden_unless_active_filtered(qb, qbo_emulator):
    stored = qbo_emulator.entities("Customer")
    inactive = [c for c in stored if not c["Active"]]
    assert inactive, "the sample company must contain inactive customers"
    default = Customer.count(qb=qb)
    both = Customer.count("Active IN (true, false)", qb=qb)
    only_inactive = Customer.count("Active = false", qb=qb)
    assert default == len(stored) - len(inactive)
    assert both == len(stored)
    assert only_inactive == len(inactive)
    items = Item.all(max_results=1000, qb=qb)  # python-quickbooks sends "SELECT *, Sku"
    assert all(i.Active for i in items)


def test_filters_like_in_refs_and_order(qb, qbo_emulator):
    invoices = qbo_emulator.entities("Invoice")
    target = invoices[0]["CustomerRef"]["value"]
    resp = qb.query(f"select * from Invoice where CustomerRef = '{target}' orderby TotalAmt desc")
    rows = resp["QueryResponse"]["Invoice"]
    assert {r["CustomerRef"]["value"] for r in rows} == {target}
    assert [r["TotalAmt"] for r in rows] == sorted((r["TotalAmt"] for r in rows), reverse=True)
    ids = [invoices[1]["Id"], invoices[2]["Id"]]
    resp = qb.query(f"select * from Invoice where Id in ('{ids[0]}', '{ids[1]}')")
    assert sorted(r["Id"] for r in resp["QueryResponse"]["Invoice"]) == sorted(ids)
    resp = qb.query("select * from Customer where DisplayName like '%über%'")
    names = [c["DisplayName"] for c in resp["QueryResponse"]["Customer"]]
    assert names == ["Zürich Übersee AG"]
    resp = qb.query("SELECT * FROM CUSTOMER WHERE DisplayName LIKE 'Caf%'")
    assert resp["QueryResponse"]["Customer"][0]["DisplayName"].startswith("Café")


def test_datetime_filter_uses_instants(qb, qbo_emulator):
    invoices = qbo_emulator.entities("Invoice")
    pivot_text = sorted(invoices, key=lambda i: instant(i["MetaData"]["LastUpdatedTime"]))[20][
        "MetaData"
    ]["LastUpdatedTime"]
    pivot = dt.datetime.fromisoformat(pivot_text).astimezone(dt.UTC)
    literal = pivot.strftime("%Y-%m-%dT%H:%M:%SZ")  # same instant, other offset
    expected = {
        i["Id"] for i in invoices if instant(i["MetaData"]["LastUpdatedTime"]) >= pivot.timestamp()
    }
    resp = qb.query(
        f"select * from Invoice where MetaData.LastUpdatedTime >= '{literal}' maxresults 1000"
    )
    assert {i["Id"] for i in resp["QueryResponse"]["Invoice"]} == expected


def test_parse_error_is_fault_4000(qb):
    with pytest.raises(ValidationException) as err:
        qb.query("select * frm Customer")
    assert err.value.error_code == 4000
    with pytest.raises(ValidationException) as err:
        qb.query("select * from Customer maxresults 5000")
    assert err.value.error_code == 4001
    assert "Max allowed value is 1000" in err.value.detail


def test_get_query_form(qbo_emulator, qb):
    url = (
        f"{qbo_emulator.base_url}/company/{qbo_emulator.realm_id}/query?query="
        + quote("select count(*) from Item")
        + "&minorversion=75"
    )
    resp = requests.get(
        url,
        headers={
            "Authorization": f"Bearer {qb.session.access_token}",
            "Accept": "application/json",
        },
        verify=qbo_emulator.ca_file,
        timeout=10,
    )
    assert resp.status_code == 200
    assert resp.json()["QueryResponse"]["totalCount"] > 0
    assert resp.headers["Content-Type"].startswith("application/json")


def test_read_companyinfo_and_preferences(qb, qbo_emulator):
    info = qb.get(
        f"{qbo_emulator.base_url}/company/{qbo_emulator.realm_id}/companyinfo/"
        f"{qbo_emulator.realm_id}"
    )
    assert info["CompanyInfo"]["CompanyName"] == "Sandbox Distributors 1"
    prefs = qb.get(f"{qbo_emulator.base_url}/company/{qbo_emulator.realm_id}/preferences")
    assert prefs["Preferences"]["SalesFormsPrefs"]["CustomTxnNumbers"] is True


def test_field_projection_and_single_row_entities(qb):
    rows = qb.query("select Id, DisplayName from Customer maxresults 3")["QueryResponse"]
    assert all(set(r) <= {"Id", "DisplayName", "domain", "sparse"} for r in rows["Customer"])
    prefs = qb.query("select * from Preferences")["QueryResponse"]["Preferences"]
    assert prefs[0]["SalesFormsPrefs"]["CustomTxnNumbers"] is True


def test_query_cache_lasts_while_pages_are_read(tmp_path, monkeypatch):
    """A result stays cached while it is paged (2 minutes since its last use), then expires."""
    from qbpa_assets.sandbox import reads
    from qbpa_assets.sandbox.company import generate_company
    from qbpa_assets.sandbox.emulator import Emulator

    emu = Emulator(company=generate_company(invoices=30), workdir=tmp_path)
    clock = [1000.0]
    evaluations = []
    original = reads.evaluate

    def counting(*args, **kwargs):
        evaluations.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(reads.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(reads, "evaluate", counting)
    page = "SELECT * FROM Invoice ORDERBY Id STARTPOSITION {} MAXRESULTS 5"
    for n in range(5):  # one page every 100 s: 400 s in all, never 120 s unused
        emu._query(page.format(n * 5 + 1))
        clock[0] += 100.0
    assert len(evaluations) == 1
    clock[0] += reads.QUERY_CACHE_SECONDS
    emu._query(page.format(1))
    assert len(evaluations) == 2
