"""Vendors, employees, classes, items' preferred vendor and transaction custom fields (issue 12).

Through the real python-quickbooks client against the emulator; the sample company and the demo
Inventiv database are checked where they must agree with it.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from quickbooks.exceptions import ObjectNotFoundException, QuickbooksException
from quickbooks.objects.base import CustomField
from quickbooks.objects.employee import Employee
from quickbooks.objects.estimate import Estimate
from quickbooks.objects.trackingclass import Class
from quickbooks.objects.vendor import Vendor

from qbpa_assets.sandbox.company import SALES_REP_FIELD, generate_company
from qbpa_assets.sandbox.company.reps import initials
from qbpa_assets.sandbox.custom_fields import definitions
from qbpa_assets.sandbox.inventiv_demo import DEMO_INVALID_KINDS, INVALID_KINDS, generate_orders
from qbpa_assets_tests.fixtures.emulator import make_quickbooks, small_company

pytestmark = pytest.mark.e2e

VENDOR_FIELDS = {
    "DisplayName",
    "CompanyName",
    "GivenName",
    "FamilyName",
    "PrimaryPhone",
    "PrimaryEmailAddr",
    "BillAddr",
    "AcctNum",
    "TermRef",
    "CurrencyRef",
    "Balance",
    "Vendor1099",
    "Active",
}
EMPLOYEE_FIELDS = {
    "DisplayName",
    "GivenName",
    "FamilyName",
    "EmployeeNumber",
    "PrimaryAddr",
    "PrimaryPhone",
    "PrimaryEmailAddr",
    "Active",
}


@pytest.fixture(scope="module")
def qb(qbo_emulator):
    return make_quickbooks(qbo_emulator)


@pytest.fixture
def emu(fresh_emulator):
    return fresh_emulator()


def _estimate(emu, **extra):
    item = emu.company.usable_items()[0]
    customer = emu.company.usable_customers()[0]
    return {
        "CustomerRef": {"value": customer["Id"]},
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 1},
            }
        ],
        **extra,
    }


@pytest.mark.parametrize(
    ("cls", "entity"), [(Vendor, "Vendor"), (Employee, "Employee"), (Class, "Class")]
)
def test_lists_hide_inactive_rows_unless_active_is_filtered(qb, qbo_emulator, cls, entity):
    stored = qbo_emulator.entities(entity)
    active = {o["Id"] for o in stored if o.get("Active", True)}
    assert active and len(active) < len(stored)  # the sample company has inactive ones
    assert {o.Id for o in cls.all(qb=qb)} == active
    every = qb.query(f"select * from {entity} where Active in (true, false) maxresults 1000")
    assert {o["Id"] for o in every["QueryResponse"][entity]} == {o["Id"] for o in stored}
    inactive = next(o for o in stored if o.get("Active") is False)
    assert cls.get(inactive["Id"], qb=qb).Active is False  # a read by Id finds it


def test_vendors_and_employees_carry_the_designed_fields(qbo_emulator):
    for vendor in qbo_emulator.entities("Vendor"):
        assert VENDOR_FIELDS <= set(vendor), vendor["Id"]
    assert any(v["Vendor1099"] for v in qbo_emulator.entities("Vendor"))
    for employee in qbo_emulator.entities("Employee"):
        assert EMPLOYEE_FIELDS <= set(employee), employee["Id"]


def test_items_name_an_existing_preferred_vendor(qb, qbo_emulator):
    vendors = {v["Id"]: v for v in qbo_emulator.entities("Vendor")}
    rows = qb.query("select * from Item maxresults 1000")["QueryResponse"]["Item"]
    refs = [i["PrefVendorRef"] for i in rows if "PrefVendorRef" in i]
    assert refs
    for ref in refs:
        assert ref["name"] == vendors[ref["value"]]["DisplayName"]
    assert all(i["Type"] in ("Inventory", "NonInventory") for i in rows if "PrefVendorRef" in i)


def test_preferences_define_the_sales_rep_custom_field(qb):
    prefs = qb.query("select * from Preferences")["QueryResponse"]["Preferences"][0]
    groups = prefs["SalesFormsPrefs"]["CustomField"]
    names = {f["Name"]: f for g in groups for f in g["CustomField"]}
    assert names["SalesFormsPrefs.UseSalesCustom1"]["BooleanValue"] is True
    assert names["SalesFormsPrefs.SalesCustomName1"]["StringValue"] == SALES_REP_FIELD
    assert definitions(prefs) == {"1": SALES_REP_FIELD}


def test_sample_invoices_carry_their_rep_both_ways(qbo_emulator):
    employees = {e["DisplayName"]: e for e in qbo_emulator.entities("Employee")}
    classes = {c["Id"]: c for c in qbo_emulator.entities("Class")}
    invoices = qbo_emulator.entities("Invoice")
    with_rep = [i for i in invoices if i.get("ClassRef")]
    assert len(invoices) > len(with_rep) > len(invoices) // 2
    for inv in with_rep:
        cls = classes[inv["ClassRef"]["value"]]
        assert inv["ClassRef"]["name"] == cls["Name"] and cls["Name"] in employees
        (field,) = inv["CustomField"]
        assert (field["DefinitionId"], field["Name"]) == ("1", SALES_REP_FIELD)
        assert field["StringValue"] == initials(cls["Name"])
    assert all(i["CustomField"] == [] for i in invoices if not i.get("ClassRef"))


def test_reps_come_from_a_second_stream_and_are_deterministic():
    one, two = (generate_company(seed=4, end_date=dt.date(2026, 11, 20)) for _ in range(2))
    assert one.invoices == two.invoices and one.vendors == two.vendors
    assert [e["Id"] for e in one.employees] == [str(n) for n in range(50, 57)]
    assert sum(not e["Active"] for e in one.employees) == 2
    assert sum(not v["Active"] for v in one.vendors) == 2


def test_custom_field_and_class_on_create_read_query_update_and_batch(emu):
    qb = make_quickbooks(emu)
    rep_class = next(c for c in emu.entities("Class") if c["Active"])
    field = CustomField()
    field.DefinitionId, field.StringValue, field.Type = "1", "AR", "StringType"
    est = Estimate.from_json(_estimate(emu, ClassRef={"value": rep_class["Id"]}))
    est.CustomField = [field]
    est.save(qb=qb)
    read = Estimate.get(est.Id, qb=qb)  # save() keeps only Id and SyncToken of the answer
    assert [(f.DefinitionId, f.Name, f.StringValue) for f in read.CustomField] == [
        ("1", SALES_REP_FIELD, "AR")
    ]
    assert read.ClassRef.value == rep_class["Id"] and read.ClassRef.name == rep_class["Name"]
    found = qb.query(f"select * from Estimate where Id = '{est.Id}'")["QueryResponse"]["Estimate"]
    assert found[0]["CustomField"][0]["StringValue"] == "AR"
    # A sparse update without CustomField keeps it; one with it replaces the value.
    body = {"Id": est.Id, "SyncToken": est.SyncToken, "sparse": True, "PrivateNote": "x"}
    kept = qb.update_object("Estimate", json.dumps(body))["Estimate"]
    assert kept["CustomField"][0]["StringValue"] == "AR"
    body = {
        "Id": est.Id,
        "SyncToken": kept["SyncToken"],
        "sparse": True,
        "CustomField": [{"DefinitionId": "1", "StringValue": "BO"}, {"StringValue": "no id"}],
    }
    changed = qb.update_object("Estimate", json.dumps(body))["Estimate"]
    assert [f["StringValue"] for f in changed["CustomField"]] == ["BO"]
    batch = {
        "BatchItemRequest": [
            {
                "bId": "1",
                "operation": "create",
                "Invoice": _estimate(emu, CustomField=[{"DefinitionId": "1", "StringValue": "CM"}]),
            },
            {
                "bId": "2",
                "operation": "create",
                "SalesReceipt": _estimate(
                    emu, CustomField=[{"DefinitionId": "3", "StringValue": "?"}]
                ),
            },
        ]
    }
    answers = {r["bId"]: r for r in qb.batch_operation(json.dumps(batch))["BatchItemResponse"]}
    assert answers["1"]["Invoice"]["CustomField"][0]["Name"] == SALES_REP_FIELD
    assert answers["2"]["Fault"]["Error"][0]["code"] == "2010"
    assert answers["2"]["Fault"]["Error"][0]["element"] == "CustomField.DefinitionId"


@pytest.mark.parametrize(
    ("extra", "code", "element"),
    [
        ({"CustomField": [{"DefinitionId": "2", "StringValue": "AR"}]}, 2010, None),
        ({"CustomField": [{"DefinitionId": "1", "StringValue": "X" * 32}]}, 2050, None),
        ({"ClassRef": {"value": "424242"}}, 610, "ClassRef"),
        ("inactive-class", 610, "ClassRef"),
    ],
    ids=["unknown-definition-id", "value-too-long", "unknown-class", "inactive-class"],
)
def test_bad_custom_field_or_class_is_refused(emu, extra, code, element):
    qb = make_quickbooks(emu)
    if extra == "inactive-class":
        extra = {
            "ClassRef": {"value": next(c for c in emu.entities("Class") if not c["Active"])["Id"]}
        }
    with pytest.raises((QuickbooksException, ObjectNotFoundException)) as err:
        qb.create_object("Estimate", json.dumps(_estimate(emu, **extra)))
    assert err.value.error_code == code
    assert emu.entities("Estimate") == []


def test_a_field_switched_off_in_preferences_is_unknown(emu):
    qb = make_quickbooks(emu)
    prefs = emu.entities("Preferences")[0]
    switches = prefs["SalesFormsPrefs"]["CustomField"][0]["CustomField"]
    switches[0]["BooleanValue"] = False
    emu.set_preference("CustomField", prefs["SalesFormsPrefs"]["CustomField"])
    body = _estimate(emu, CustomField=[{"DefinitionId": "1", "StringValue": "AR"}])
    with pytest.raises(QuickbooksException) as err:
        qb.create_object("Estimate", json.dumps(body))
    assert err.value.error_code == 2010


def test_demo_orders_use_employee_ids_and_one_has_an_inactive_rep():
    company = small_company()
    active = {e["Id"] for e in company.employees if e["Active"]}
    inactive = {e["Id"] for e in company.employees if not e["Active"]}
    orders = generate_orders(company, orders=12, invalid=5, end_date=dt.date(2026, 11, 20))
    kinds = {o.kind: o for o in orders}
    assert set(kinds) == {"valid", *DEMO_INVALID_KINDS}
    assert kinds["inactive_rep"].rep_id in inactive
    assert all(o.rep_id in active for o in orders if o.kind != "inactive_rep")
    # The four kinds the tests rely on come first, in their order, as before.
    assert [o.kind for o in orders[-5:-1]] == list(INVALID_KINDS)
