"""Create/update/delete, validations, requestid, batch and CDC through python-quickbooks."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from quickbooks.exceptions import (
    ObjectNotFoundException,
    QuickbooksException,
    ValidationException,
)

from qbpa_assets_tests.fixtures.emulator import make_quickbooks


@pytest.fixture
def emu(fresh_emulator):
    return fresh_emulator()


@pytest.fixture
def qb(emu):
    return make_quickbooks(emu)


def _customer(emu, active=True):
    return next(c for c in emu.entities("Customer") if c["Active"] is active and not c["Job"])


def _items(emu):
    return [i for i in emu.company.usable_items()][:2]


def _estimate(emu, doc="SO-1001", **extra):
    a, b = _items(emu)
    return {
        "CustomerRef": {"value": _customer(emu)["Id"]},
        "DocNumber": doc,
        "TxnDate": "2026-11-20",
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Description": "first",
                "SalesItemLineDetail": {"ItemRef": {"value": a["Id"]}, "Qty": 3, "UnitPrice": 2.5},
            },
            {
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": b["Id"]}, "Qty": 2},
            },
        ],
        **extra,
    }


def _fault_code(func):
    with pytest.raises(QuickbooksException) as err:
        func()
    return err.value.error_code


def test_create_estimate_computes_server_fields(emu, qb):
    a, b = _items(emu)
    resp = qb.create_object("Estimate", json.dumps(_estimate(emu)))
    est = resp["Estimate"]
    assert set(resp) == {"Estimate", "time"}
    lines = [line for line in est["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert lines[0]["Amount"] == 7.5
    assert lines[1]["SalesItemLineDetail"]["UnitPrice"] == b["UnitPrice"]
    assert lines[1]["Amount"] == round(2 * b["UnitPrice"], 2)
    assert est["Line"][-1]["DetailType"] == "SubTotalLineDetail"
    assert est["TotalAmt"] == round(7.5 + lines[1]["Amount"], 2)
    assert est["TxnStatus"] == "Pending"
    assert est["SyncToken"] == "0" and est["Id"].isdigit()
    assert est["MetaData"]["CreateTime"] == est["MetaData"]["LastUpdatedTime"]
    assert est["CustomerRef"]["name"]
    assert emu.entities("Estimate")[0]["Id"] == est["Id"]
    read = qb.get_single_object("Estimate", est["Id"])
    assert read["Estimate"] == est


def test_create_invoice_and_salesreceipt_balances(emu, qb):
    inv = qb.create_object("Invoice", json.dumps(_estimate(emu, "INV-1")))["Invoice"]
    assert inv["Balance"] == inv["TotalAmt"] > 0 and inv["DueDate"] >= inv["TxnDate"]
    sr = qb.create_object("SalesReceipt", json.dumps(_estimate(emu, "SR-1")))["SalesReceipt"]
    assert sr["Balance"] == 0.0


@pytest.mark.parametrize(
    ("mutate", "code", "exc"),
    [
        (lambda body, emu: body.pop("CustomerRef"), 2020, ValidationException),
        (lambda body, emu: body.pop("Line"), 2020, ValidationException),
        (lambda body, emu: body.update(Line=[]), 2020, ValidationException),
        (lambda body, emu: body.update(CustomerRef={"value": "999999"}), 610, None),
        (
            lambda body, emu: body.update(CustomerRef={"value": _customer(emu, False)["Id"]}),
            610,
            None,
        ),
        (
            lambda body, emu: body["Line"][0]["SalesItemLineDetail"].update(
                ItemRef={"value": "987654"}
            ),
            610,
            None,
        ),
        (lambda body, emu: body.update(DocNumber="X" * 22), 2050, ValidationException),
    ],
    ids=[
        "no-customer",
        "no-line",
        "empty-line",
        "unknown-customer",
        "inactive-customer",
        "unknown-item",
        "long-docnumber",
    ],
)
def test_create_validations(emu, qb, mutate, code, exc):
    body = _estimate(emu)
    mutate(body, emu)
    with pytest.raises(exc or ObjectNotFoundException) as err:
        qb.create_object("Estimate", json.dumps(body))
    assert err.value.error_code == code
    assert emu.entities("Estimate") == []


def test_duplicate_docnumber_depends_on_preference(emu, qb):
    qb.create_object("Estimate", json.dumps(_estimate(emu, "DUP-1")))
    assert (
        _fault_code(lambda: qb.create_object("Estimate", json.dumps(_estimate(emu, "DUP-1"))))
        == 6140
    )
    # Per entity type: an Invoice may reuse an Estimate's number.
    qb.create_object("Invoice", json.dumps(_estimate(emu, "DUP-1")))
    emu.set_preference("CustomTxnNumbers", False)
    est = qb.create_object("Estimate", json.dumps(_estimate(emu, "DUP-1")))["Estimate"]
    assert est["DocNumber"] == "DUP-1"
    auto = _estimate(emu)
    auto.pop("DocNumber")
    assert qb.create_object("Estimate", json.dumps(auto))["Estimate"]["DocNumber"]


def test_update_sparse_and_stale_synctoken(emu, qb):
    est = qb.create_object("Estimate", json.dumps(_estimate(emu)))["Estimate"]
    query = f"select * from Estimate where Id = '{est['Id']}'"
    assert "PrivateNote" not in qb.query(query)["QueryResponse"]["Estimate"][0]
    upd = qb.update_object(
        "Estimate",
        json.dumps(
            {
                "Id": est["Id"],
                "SyncToken": est["SyncToken"],
                "sparse": True,
                "PrivateNote": "changed",
            }
        ),
    )["Estimate"]
    assert upd["SyncToken"] == "1" and upd["PrivateNote"] == "changed"
    assert upd["TotalAmt"] == est["TotalAmt"]
    assert qb.query(query)["QueryResponse"]["Estimate"] == [upd]  # no stale cached page
    stale = {"Id": est["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "again"}
    assert _fault_code(lambda: qb.update_object("Estimate", json.dumps(stale))) == 5010
    missing = {"Id": "424242", "SyncToken": "0", "sparse": True}
    assert _fault_code(lambda: qb.update_object("Estimate", json.dumps(missing))) == 610


def test_requestid_replays_original_response(emu, qb):
    body = json.dumps(_estimate(emu))
    first = qb.create_object("Estimate", body, request_id="order-42-attempt")
    second = qb.create_object("Estimate", body, request_id="order-42-attempt")
    assert first == second
    assert len(emu.entities("Estimate")) == 1
    assert [e["requestid"] for e in emu.request_log if e["op"] == "create"] == [
        "order-42-attempt",
        "order-42-attempt",
    ]
    assert _fault_code(lambda: qb.create_object("Estimate", body, request_id="r" * 51)) == 2050


def test_batch_mixed_results_are_independent(emu, qb):
    items = [
        {"bId": "1", "operation": "create", "Estimate": _estimate(emu, "B-1")},
        {"bId": "2", "operation": "create", "Estimate": {"Line": []}},
        {"bId": "3", "Query": "select count(*) from Customer"},
        {"bId": "4", "operation": "create", "Estimate": _estimate(emu, "B-1")},
        {"bId": "5", "Query": "select * frm Customer"},
    ]
    resp = qb.batch_operation(json.dumps({"BatchItemRequest": items}))
    by_id = {r["bId"]: r for r in resp["BatchItemResponse"]}
    assert by_id["1"]["Estimate"]["DocNumber"] == "B-1"
    assert by_id["2"]["Fault"]["Error"][0]["code"] == "2020"
    assert by_id["2"]["Fault"]["type"] == "ValidationFault"
    assert by_id["3"]["QueryResponse"]["totalCount"] > 0
    assert by_id["4"]["Fault"]["Error"][0]["code"] == "6140"
    assert by_id["5"]["Fault"]["Error"][0]["code"] == "4000"
    assert len(emu.entities("Estimate")) == 1
    assert emu.request_log[-1]["op"] == "batch" and emu.request_log[-1]["batch_size"] == 5
    too_many = [{"bId": str(k), "Query": "select * from Item"} for k in range(31)]
    with pytest.raises(QuickbooksException):
        qb.batch_operation(json.dumps({"BatchItemRequest": too_many}))


def test_delete_and_cdc_tombstones(emu, qb):
    est = qb.create_object("Estimate", json.dumps(_estimate(emu)))["Estimate"]
    resp = qb.delete_object("Estimate", json.dumps({"Id": est["Id"], "SyncToken": "0"}))
    assert resp["Estimate"] == {"status": "Deleted", "domain": "QBO", "Id": est["Id"]}
    assert emu.entities("Estimate") == []
    since = (emu.now - dt.timedelta(days=2)).isoformat()
    cdc = qb.change_data_capture("Estimate,Invoice", since)
    groups = cdc["CDCResponse"][0]["QueryResponse"]
    estimates = groups[0]["Estimate"]
    assert estimates == [
        {
            "Id": est["Id"],
            "status": "Deleted",
            "domain": "QBO",
            "MetaData": {"LastUpdatedTime": estimates[0]["MetaData"]["LastUpdatedTime"]},
        }
    ]
    invoices = groups[1]["Invoice"]
    assert any(i.get("status") == "Deleted" for i in invoices)  # generated tombstones
    assert any(i.get("Line") for i in invoices)


def test_cdc_limits(emu, qb):
    too_old = (emu.now - dt.timedelta(days=31)).isoformat()
    with pytest.raises(QuickbooksException):
        qb.change_data_capture("Invoice", too_old)


def test_cdc_caps_at_1000_objects(fresh_emulator):
    emu = fresh_emulator(customers=20, items=10, invoices=1100)
    qb = make_quickbooks(emu)
    since = (emu.now - dt.timedelta(days=6)).isoformat()
    groups = qb.change_data_capture("Invoice,Customer", since)["CDCResponse"][0]["QueryResponse"]
    total = sum(len(g.get("Invoice", g.get("Customer", []))) for g in groups)
    assert total == 1000


def test_void_invoice(emu, qb):
    inv = qb.create_object("Invoice", json.dumps(_estimate(emu, "V-1")))["Invoice"]
    body = json.dumps({"Id": inv["Id"], "SyncToken": inv["SyncToken"]})
    voided = qb.post(
        f"{emu.base_url}/company/{emu.realm_id}/invoice", body, params={"operation": "void"}
    )["Invoice"]
    assert voided["TotalAmt"] == 0.0 and voided["Balance"] == 0.0
    assert voided["PrivateNote"] == "Voided"


def test_helpers_change_data_for_tests(emu):
    cust = _customer(emu)
    emu.set_clock(dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    changed = emu.update_entity("Customer", cust["Id"], {"Active": False})
    assert changed["SyncToken"] == str(int(cust["SyncToken"]) + 1)
    assert changed["MetaData"]["LastUpdatedTime"] == "2030-01-01T19:04:05-08:00"
    assert changed["MetaData"]["CreateTime"] == cust["MetaData"]["CreateTime"]
    inv = emu.entities("Invoice")[0]
    emu.delete_entity("Invoice", inv["Id"])
    assert inv["Id"] in {t["Id"] for t in emu.tombstones("Invoice")}
    emu.set_clock(None)
    added = emu.add_entity("Customer", {"DisplayName": "Added by a test"})
    assert added["Id"] == str(max(int(c["Id"]) for c in emu.entities("Customer")))


def test_create_customer_and_item_through_objects(emu, qb):
    from quickbooks.objects.customer import Customer
    from quickbooks.objects.item import Item

    cust = Customer()
    cust.DisplayName = "Neue Kunde GmbH"
    saved = cust.save(qb=qb)
    assert cust.Id and saved.SyncToken == "0" and saved.FullyQualifiedName == "Neue Kunde GmbH"
    dup = Customer()
    dup.DisplayName = "neue kunde gmbh"
    with pytest.raises(QuickbooksException) as err:
        dup.save(qb=qb)
    assert err.value.error_code == 6240
    item = Item()
    item.Name = "Widget X"
    item.Type = "Service"
    item.UnitPrice = 12.5
    item = item.save(qb=qb)
    assert item.Id and item.IncomeAccountRef.value
    item.UnitPrice = 13.0
    item = item.save(qb=qb)  # full update through python-quickbooks
    assert item.SyncToken == "1"
    stored = next(i for i in emu.entities("Item") if i["Id"] == item.Id)
    assert stored["UnitPrice"] == 13.0


def test_stopped_emulator_stops_answering_keep_alive(fresh_emulator):
    import requests

    emu = fresh_emulator()
    session = requests.Session()
    session.trust_env = False
    session.verify = emu.ca_file
    assert session.get(emu.discovery_url, timeout=5).status_code == 200
    emu.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(emu.discovery_url, timeout=5)
