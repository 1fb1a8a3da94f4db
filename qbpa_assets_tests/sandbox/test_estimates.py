"""Estimate status and linked invoices, sparse updates, batch updates, void and delete (issue 13).

Through the real python-quickbooks client against the emulator, with the emulator's clock moved
between changes so that CDC and ``MetaData.LastUpdatedTime`` queries can tell them apart.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.estimate import Estimate

from qbpa_assets_tests.fixtures.emulator import make_quickbooks

pytestmark = pytest.mark.e2e

T0 = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.UTC)


@pytest.fixture
def emu(fresh_emulator):
    emu = fresh_emulator(end_date=dt.date(2026, 11, 19), access_token_ttl=7 * 86400)
    emu.set_clock(T0)
    return emu


@pytest.fixture
def qb(emu):
    return make_quickbooks(emu)


def _body(emu, doc="SO-1", qty=2, **extra):
    items = emu.company.usable_items()
    return {
        "CustomerRef": {"value": emu.company.usable_customers()[0]["Id"]},
        "DocNumber": doc,
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": items[0]["Id"]}, "Qty": qty},
            },
            {
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": items[1]["Id"]}, "Qty": 1},
            },
        ],
        **extra,
    }


def _create(qb, emu, entity="Estimate", **kwargs):
    return qb.create_object(entity, json.dumps(_body(emu, **kwargs)))[entity]


def _code(func):
    with pytest.raises(QuickbooksException) as err:
        func()
    return err.value.error_code


def _changed_since(qb, entities, when):
    groups = qb.change_data_capture(entities, when.isoformat())["CDCResponse"][0]["QueryResponse"]
    return {name: g[name] for g in groups for name in g if isinstance(g[name], list)}


def test_status_defaults_to_pending_and_only_qbo_statuses_are_taken(emu, qb):
    est = _create(qb, emu)
    assert est["TxnStatus"] == "Pending" and est["LinkedTxn"] == []
    body = {"Id": est["Id"], "SyncToken": est["SyncToken"], "sparse": True}
    accepted = qb.update_object("Estimate", json.dumps({**body, "TxnStatus": "Accepted"}))
    assert accepted["Estimate"]["TxnStatus"] == "Accepted"
    body["SyncToken"] = accepted["Estimate"]["SyncToken"]
    assert _code(lambda: qb.update_object("Estimate", json.dumps({**body, "TxnStatus": "Won"})))
    assert emu.entities("Estimate")[0]["TxnStatus"] == "Accepted"


def test_converting_links_both_ways_closes_the_estimate_and_shows_in_cdc(emu, qb):
    est = _create(qb, emu, CustomField=[{"DefinitionId": "1", "StringValue": "AR"}])
    emu.set_clock(T0 + dt.timedelta(hours=1))
    invoice = emu.convert_estimate(est["Id"])
    assert invoice["LinkedTxn"] == [{"TxnId": est["Id"], "TxnType": "Estimate"}]
    assert invoice["TotalAmt"] == est["TotalAmt"] and invoice["CustomField"] == est["CustomField"]
    assert invoice["CustomerRef"] == est["CustomerRef"] and invoice["DocNumber"]
    read = Estimate.get(est["Id"], qb=qb)
    assert read.TxnStatus == "Closed" and read.SyncToken == "1"
    assert [(link.TxnId, link.TxnType) for link in read.LinkedTxn] == [(invoice["Id"], "Invoice")]
    since = T0 + dt.timedelta(minutes=30)
    changed = _changed_since(qb, "Estimate,Invoice", since)
    assert [e["Id"] for e in changed["Estimate"]] == [est["Id"]]
    assert invoice["Id"] in {i["Id"] for i in changed["Invoice"]}
    text = since.isoformat()
    rows = qb.query(f"select * from Estimate where MetaData.LastUpdatedTime >= '{text}'")
    assert [e["TxnStatus"] for e in rows["QueryResponse"]["Estimate"]] == ["Closed"]


def test_controls_over_http_convert_and_change_status(emu, qb):
    session = requests.Session()
    session.trust_env, session.verify = False, emu.ca_file
    first, second = _create(qb, emu, doc="SO-1"), _create(qb, emu, doc="SO-2")
    answer = session.post(
        emu.admin_url + "/convert_estimate",
        json={"estimate_id": first["Id"], "status": "Converted", "doc_number": "INV-77"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["DocNumber"] == "INV-77"
    assert emu.entities("Estimate")[0]["TxnStatus"] == "Converted"
    answer = session.post(
        emu.admin_url + "/set_estimate_status",
        json={"estimate_id": second["Id"], "status": "Accepted", "accepted_by": "Ana"},
        timeout=10,
    )
    assert (answer.json()["TxnStatus"], answer.json()["AcceptedBy"]) == ("Accepted", "Ana")
    bad = session.post(
        emu.admin_url + "/set_estimate_status",
        json={"estimate_id": second["Id"], "status": "Lost"},
        timeout=10,
    )
    assert bad.status_code == 400 and bad.json()["Fault"]["Error"][0]["code"] == "2010"


def test_a_user_change_makes_the_clients_synctoken_stale(emu, qb):
    est = _create(qb, emu)
    emu.set_estimate_status(est["Id"], "Rejected")
    stale = {"Id": est["Id"], "SyncToken": est["SyncToken"], "sparse": True, "PrivateNote": "x"}
    with pytest.raises(QuickbooksException) as err:
        qb.update_object("Estimate", json.dumps(stale))
    assert err.value.error_code == 5010 and err.value.message == "Stale Object Error"
    assert emu.entities("Estimate")[0]["TxnStatus"] == "Rejected"


def test_invoice_made_through_the_api_links_and_its_deletion_reopens(emu, qb):
    est = _create(qb, emu)
    linked = [{"TxnId": est["Id"], "TxnType": "Estimate"}]
    invoice = _create(qb, emu, entity="Invoice", doc="INV-1", LinkedTxn=linked)
    assert emu.entities("Estimate")[0]["TxnStatus"] == "Closed"
    update = {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "sparse": True}
    qb.update_object("Invoice", json.dumps({**update, "PrivateNote": "edited"}))
    assert emu.entities("Estimate")[0]["SyncToken"] == "1"  # an invoice edit is no new link
    qb.delete_object("Invoice", json.dumps({"Id": invoice["Id"], "SyncToken": "1"}))
    reopened = emu.entities("Estimate")[0]
    assert (reopened["TxnStatus"], reopened["LinkedTxn"]) == ("Pending", [])
    ghost = [{"TxnId": "999999", "TxnType": "Estimate"}]
    assert _code(lambda: _create(qb, emu, entity="Invoice", doc="INV-2", LinkedTxn=ghost)) == 610


@pytest.mark.parametrize("entity", ["Estimate", "Invoice", "SalesReceipt"])
def test_sparse_update_keeps_or_replaces_lines(emu, qb, entity):
    doc = _create(qb, emu, entity=entity)
    base = {"Id": doc["Id"], "sparse": True}
    memo = qb.update_object(entity, json.dumps({**base, "SyncToken": "0", "PrivateNote": "m"}))
    kept = memo[entity]
    assert kept["Line"] == doc["Line"] and kept["TotalAmt"] == doc["TotalAmt"]
    one_line = _body(emu, qty=5)["Line"][:1]
    new = qb.update_object(entity, json.dumps({**base, "SyncToken": "1", "Line": one_line}))
    lines = [x for x in new[entity]["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert len(lines) == 1 and lines[0]["SalesItemLineDetail"]["Qty"] == 5
    assert new[entity]["PrivateNote"] == "m" and new[entity]["SyncToken"] == "2"
    stale = json.dumps({**base, "SyncToken": "1", "PrivateNote": "late"})
    assert _code(lambda: qb.update_object(entity, stale)) == 5010


def test_batch_updates_replay_by_requestid(emu, qb):
    first, second = _create(qb, emu, doc="SO-1"), _create(qb, emu, doc="SO-2")
    items = [
        {
            "bId": doc["Id"],
            "operation": "update",
            "Estimate": {"Id": doc["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "b"},
        }
        for doc in (first, second)
    ]
    items.append(
        {
            "bId": "stale",
            "operation": "update",
            "Estimate": {"Id": first["Id"], "SyncToken": "0", "sparse": True},
        }
    )
    url = f"{emu.base_url}/company/{emu.realm_id}/batch"
    body = json.dumps({"BatchItemRequest": items})
    answer = qb.post(url, body, request_id="orders-run-7-updates")
    again = qb.post(url, body, request_id="orders-run-7-updates")
    assert again == answer
    by_id = {r["bId"]: r for r in answer["BatchItemResponse"]}
    assert by_id[first["Id"]]["Estimate"]["SyncToken"] == "1"
    assert by_id["stale"]["Fault"]["Error"][0]["code"] == "5010"
    assert {e["SyncToken"] for e in emu.entities("Estimate")} == {"1"}  # applied once


@pytest.mark.parametrize("entity", ["Invoice", "SalesReceipt"])
def test_void_and_delete(emu, qb, entity):
    doc = _create(qb, emu, entity=entity)
    url = f"{emu.base_url}/company/{emu.realm_id}/{entity.lower()}"
    body = json.dumps({"Id": doc["Id"], "SyncToken": "0"})
    voided = qb.post(url, body, params={"operation": "void"})[entity]
    assert voided["TotalAmt"] == 0.0 and voided["SyncToken"] == "1"
    assert _code(lambda: qb.delete_object(entity, body)) == 5010  # the void changed it
    qb.delete_object(entity, json.dumps({"Id": doc["Id"], "SyncToken": "1"}))
    assert doc["Id"] not in {d["Id"] for d in emu.entities(entity)}
    assert [t["Id"] for t in emu.tombstones(entity) if t["Id"] == doc["Id"]] == [doc["Id"]]
    est = _create(qb, emu, doc="E-1")
    void_estimate = json.dumps({"Id": est["Id"], "SyncToken": "0"})
    estimate_url = f"{emu.base_url}/company/{emu.realm_id}/estimate"
    with pytest.raises(QuickbooksException):
        qb.post(estimate_url, void_estimate, params={"operation": "void"})
