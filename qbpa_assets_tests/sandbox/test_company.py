"""The sample company generator: determinism and the shapes exporters must survive."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

from qbpa_assets.sandbox.company import generate_company
from qbpa_assets.sandbox.query import instant

END = dt.date(2026, 3, 10)


def _dump(company):
    return json.dumps(
        [company.customers, company.items, company.invoices, company.deleted_invoices],
        ensure_ascii=False,
        sort_keys=True,
    )


def test_deterministic_for_same_arguments():
    a = generate_company(customers=60, items=30, invoices=90, days=4, seed=5, end_date=END)
    b = generate_company(customers=60, items=30, invoices=90, days=4, seed=5, end_date=END)
    c = generate_company(customers=60, items=30, invoices=90, days=4, seed=6, end_date=END)
    assert _dump(a) == _dump(b)
    assert _dump(a) != _dump(c)


def test_timestamps_in_window_with_offsets():
    company = generate_company(customers=30, items=20, invoices=80, days=3, seed=2, end_date=END)
    start = dt.datetime(2026, 3, 8, tzinfo=dt.UTC).timestamp()
    end = dt.datetime(2026, 3, 11, tzinfo=dt.UTC).timestamp()
    for inv in company.invoices + company.deleted_invoices:
        stamp = inv["MetaData"]["LastUpdatedTime"]
        assert stamp[-6:] in ("-08:00", "-07:00")
        assert start <= instant(stamp) < end
    assert len(company.deleted_invoices) >= 1
    assert all(t["status"] == "Deleted" for t in company.deleted_invoices)
    ids = [int(i["Id"]) for i in company.invoices]
    assert ids == sorted(ids)


def test_default_window_ends_today_and_not_in_future():
    company = generate_company(customers=10, items=10, invoices=30, days=2, seed=3)
    now = dt.datetime.now(dt.UTC).timestamp()
    assert all(instant(i["MetaData"]["LastUpdatedTime"]) <= now for i in company.invoices)


def test_rich_shapes_present():
    company = generate_company(customers=40, items=25, invoices=60, days=5, seed=1, end_date=END)
    lines = Counter(line["DetailType"] for inv in company.invoices for line in inv["Line"])
    for kind in (
        "SalesItemLineDetail",
        "GroupLineDetail",
        "DiscountLineDetail",
        "SubTotalLineDetail",
        "DescriptionOnly",
    ):
        assert lines[kind] > 0, kind
    group = next(
        line for inv in company.invoices for line in inv["Line"] if "GroupLineDetail" in line
    )
    assert group["GroupLineDetail"]["Line"][0]["DetailType"] == "SalesItemLineDetail"
    assert Counter(i["Type"] for i in company.items).keys() >= {
        "Inventory",
        "NonInventory",
        "Service",
        "Category",
        "Group",
    }
    inventory = next(i for i in company.items if i["Type"] == "Inventory")
    assert {"Sku", "QtyOnHand", "UnitPrice", "PurchaseCost", "IncomeAccountRef"} <= set(inventory)
    voided = [i for i in company.invoices if i.get("PrivateNote") == "Voided"]
    assert voided and all(v["TotalAmt"] == 0 for v in voided)
    assert any(c["Job"] and c["ParentRef"] for c in company.customers)
    assert any(not c["Active"] for c in company.customers)
    text = _dump(company)
    for needle in ("\\t", "\\n", '\\"', "é", "ü", "中文", "😀"):
        assert needle in text, needle
    assert max(len(c.get("Notes", "")) for c in company.customers) >= 1000
    for cust in company.customers:
        assert {"BillAddr", "ShipAddr", "PrimaryPhone", "PrimaryEmailAddr", "Balance"} <= set(cust)


def test_totals_add_up():
    company = generate_company(customers=40, items=25, invoices=60, days=5, seed=1, end_date=END)
    for inv in company.invoices:
        sub = next(x for x in inv["Line"] if x["DetailType"] == "SubTotalLineDetail")["Amount"]
        disc = sum(x["Amount"] for x in inv["Line"] if x["DetailType"] == "DiscountLineDetail")
        if inv.get("PrivateNote") != "Voided":
            assert round(sub - disc, 2) == inv["TotalAmt"]
        for line in inv["Line"]:
            detail = line.get("SalesItemLineDetail")
            if detail and inv.get("PrivateNote") != "Voided":
                assert line["Amount"] == round(detail["Qty"] * detail["UnitPrice"], 2)


def test_usable_customers_and_items():
    company = generate_company(customers=40, items=25, invoices=10, days=5, seed=1, end_date=END)
    customers = company.usable_customers()
    items = company.usable_items()
    assert [c["Id"] for c in customers[:5]] == ["1", "2", "3", "4", "5"]
    assert [i["Id"] for i in items[:5]] == ["1", "2", "3", "4", "5"]
    assert all(c["Active"] for c in customers)
    assert all(i["Active"] and i["UnitPrice"] is not None for i in items)
    assert not {i["Type"] for i in items} & {"Category", "Group"}
