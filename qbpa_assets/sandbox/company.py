"""A deterministic sample QuickBooks Online company.

Objects are the JSON dicts QBO returns (minor version 75): Customers with addresses, jobs and
inactive rows; Items of every type; Invoices with sales, group, discount, sub-total and
description lines, voided and deleted ones, and text that breaks naive exporters (tabs,
newlines, quotes, non-ASCII, emoji, very long values).

Big companies share small immutable sub-dicts (refs, addresses) between objects to keep memory
low: treat the returned objects as read-only (the emulator replaces, never mutates, them).
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

COMPANY_TZ = ZoneInfo("America/Los_Angeles")

FIRST = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Carlos Ana Wei Mei Hiroshi Yuki Olga Sven Chloé "
    "Zoë Jürgen Søren Amélie Renée Ngozi Aarav Fatima Diego"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Müller Schäfer Nørgaard Dubois Okafor Nakamura Chen Kowalski O'Brien D'Angelo"
).split()
BUSINESS = (
    "Supply Hardware Outfitters Traders Wholesale Distributors Market Provisions Goods Mercantile "
    "Depot Emporium Partners Foods Fixtures Electric Plumbing Garden Marine Farm"
).split()
PLACES = (
    "Bayview Northside Lakeshore Pinecrest Riverside Summit Harbor Valley Cedar Granite Redwood "
    "Golden Silver Prairie Coastal Mountain Union Liberty Pioneer Heritage"
).split()
CITIES = (
    ("San Francisco", "CA", "941"),
    ("Sacramento", "CA", "958"),
    ("Portland", "OR", "972"),
    ("Seattle", "WA", "981"),
    ("Reno", "NV", "895"),
    ("Boise", "ID", "837"),
    ("Phoenix", "AZ", "850"),
    ("Denver", "CO", "802"),
    ("Austin", "TX", "787"),
    ("Chicago", "IL", "606"),
)
STREETS = "Main Oak Pine Maple Cedar Elm Washington Lake Hill Park Market Mission".split()
ITEM_NOUNS = (
    "Bolt Washer Hinge Bracket Valve Fitting Hose Pump Filter Gasket Bearing Sprocket Cable "
    "Switch Panel Lamp Seed Fertilizer Mulch Planter Tile Grout Sealant Brush Roller"
).split()
ITEM_ADJ = (
    "Stainless Galvanized Brass Copper Heavy-Duty Compact Premium Economy Industrial Organic "
    "Weatherproof Insulated"
).split()
SERVICES = (
    "Installation Consulting Delivery Design Maintenance Repair Training Inspection "
    "Landscaping Trenching"
).split()
TERMS = (("1", "Due on receipt", 0), ("2", "Net 15", 15), ("3", "Net 30", 30), ("4", "Net 60", 60))

# Values that break naive exporters; they land in names, notes, memos and descriptions.
TRICKY_NAMES = (
    "Café Müller & Söhne",
    "Zürich Übersee AG",
    "北京贸易有限公司",
    'The "Big" Joe\'s Diner',
    "O'Brien, Lacey & Co.",
    "Smile 😀 Supplies",
    "Ærø Fisk ApS",
    "Crème Brûlée Bakery",
)
TRICKY_TEXT = (
    "Deliver to back door\tring twice",
    "Line one\nLine two\r\nLine three",
    'He said "fragile" — handle with care',
    "Ünïcödé memo: naïve café, 中文备注, emoji 🚚📦",
    "Trailing spaces and a tab\t  ",
    "Semicolons; commas, pipes | and backslashes \\ here",
)
LONG_TEXT = ("Very long note. " + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 70)[
    :3990
]

USD = {"value": "USD", "name": "United States Dollar"}
TAX_NON = {"value": "NON"}
TAX_TAX = {"value": "TAX"}
SALES_ACCOUNT = {"value": "79", "name": "Sales of Product Income"}
SERVICE_ACCOUNT = {"value": "1", "name": "Services"}
COGS_ACCOUNT = {"value": "80", "name": "Cost of Goods Sold"}
INVENTORY_ACCOUNT = {"value": "81", "name": "Inventory Asset"}
DISCOUNT_ACCOUNT = {"value": "86", "name": "Discounts given"}


_OFFSETS: dict[int, tuple[int, str]] = {}


def _pick(rng: random.Random, seq: Any) -> Any:
    # random.choice/randint go through _randbelow, several times slower; generating 300k
    # objects makes that matter.
    return seq[int(rng.random() * len(seq))]


def _int(rng: random.Random, low: int, high: int) -> int:
    return low + int(rng.random() * (high - low + 1))


def qbo_time(ts: float) -> str:
    """Format a POSIX timestamp the way QBO does: company local time with offset."""
    seconds = int(ts)
    hour = seconds // 3600
    cached = _OFFSETS.get(hour)
    if cached is None:
        # Time zone transitions fall on whole UTC hours, so one lookup per hour is exact.
        offset = dt.datetime.fromtimestamp(hour * 3600, COMPANY_TZ).utcoffset()
        total = int(offset.total_seconds()) if offset is not None else 0
        sign = "-" if total < 0 else "+"
        cached = (total, f"{sign}{abs(total) // 3600:02d}:{abs(total) % 3600 // 60:02d}")
        _OFFSETS[hour] = cached
    local = time.gmtime(seconds + cached[0])
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + cached[1]


def local_date(ts: float) -> str:
    """Return the company-local date (``YYYY-MM-DD``) of a timestamp."""
    return dt.datetime.fromtimestamp(ts, COMPANY_TZ).date().isoformat()


@dataclass
class SampleCompany:
    """A generated company: lists of QBO JSON objects plus company settings."""

    customers: list[dict[str, Any]]
    items: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    deleted_invoices: list[dict[str, Any]]
    preferences: dict[str, Any]
    company_name: str
    terms: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    employees: list[dict[str, Any]] = field(default_factory=list)
    vendors: list[dict[str, Any]] = field(default_factory=list)
    window_start: str = ""
    window_end: str = ""

    def usable_customers(self) -> list[dict[str, Any]]:
        """Active customers an order can be created for (the first few are plain names)."""
        return [c for c in self.customers if c.get("Active", True)]

    def usable_items(self) -> list[dict[str, Any]]:
        """Active items that can go on a sales line (not Category/Group, with a UnitPrice)."""
        return [
            i
            for i in self.items
            if i.get("Active", True)
            and i.get("Type") not in ("Category", "Group")
            and i.get("UnitPrice") is not None
        ]


def default_preferences(custom_txn_numbers: bool = True) -> dict[str, Any]:
    """Return a QBO ``Preferences`` object."""
    return {
        "AccountingInfoPrefs": {
            "TrackDepartments": False,
            "ClassTrackingPerTxn": False,
            "CustomerTerminology": "Customers",
        },
        "ProductAndServicesPrefs": {
            "ForSales": True,
            "ForPurchase": True,
            "QuantityWithPriceAndRate": True,
            "QuantityOnHand": True,
        },
        "SalesFormsPrefs": {
            "CustomTxnNumbers": custom_txn_numbers,
            "AllowDeposit": True,
            "AllowDiscount": True,
            "DefaultDiscountAccount": DISCOUNT_ACCOUNT["value"],
            "AllowEstimates": True,
            "EstimateMessage": "Please review the estimate below.",
            "ETransactionEnabledStatus": "NotApplicable",
            "DefaultTerms": {"value": "3"},
            "UsingProgressInvoicing": False,
        },
        "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}},
        "TimeTrackingPrefs": {"UseServices": True, "WorkWeekStartDate": "Monday"},
        "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": True},
        "domain": "QBO",
        "sparse": False,
        "Id": "1",
        "SyncToken": "0",
        "MetaData": {
            "CreateTime": "2020-01-01T09:00:00-08:00",
            "LastUpdatedTime": "2020-01-01T09:00:00-08:00",
        },
    }


def _address(rng: random.Random, addr_id: int) -> dict[str, Any]:
    city, state, zip3 = _pick(rng, CITIES)
    addr: dict[str, Any] = {
        "Id": str(addr_id),
        "Line1": f"{_int(rng, 1, 9999)} {_pick(rng, STREETS)} St.",
        "City": city,
        "CountrySubDivisionCode": state,
        "PostalCode": f"{zip3}{_int(rng, 0, 99):02d}",
    }
    if rng.random() < 0.15:
        addr["Line2"] = f"Suite {_int(rng, 100, 999)}"
    if rng.random() < 0.05:
        addr["Line2"] = "Dock 4\tGate B"
    return addr


def _metadata(create: float, update: float) -> dict[str, str]:
    return {"CreateTime": qbo_time(create), "LastUpdatedTime": qbo_time(max(create, update))}


def _window(days: int, end_date: dt.date | None) -> tuple[float, float]:
    today = dt.datetime.now(dt.UTC).date()
    end_date = end_date or today
    start = dt.datetime.combine(
        end_date - dt.timedelta(days=days - 1), dt.time(), tzinfo=dt.UTC
    ).timestamp()
    end = dt.datetime.combine(end_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC).timestamp()
    # Never put LastUpdatedTime in the future: a sync of "changes up to now" must see all.
    now = dt.datetime.now(dt.UTC).timestamp() - 60
    return start, max(start + 1, min(end, now))


def _customers(rng: random.Random, n: int, t0: float, t1: float) -> list[dict[str, Any]]:
    customers: list[dict[str, Any]] = []
    used: set[str] = set()
    parents: list[dict[str, Any]] = []
    for i in range(1, n + 1):
        first, last = _pick(rng, FIRST), _pick(rng, LAST)
        is_job = i > 8 and parents and rng.random() < 0.08
        tricky = 6 <= i < 6 + len(TRICKY_NAMES)
        if tricky:
            company = TRICKY_NAMES[i - 6]
        elif rng.random() < 0.7:
            company = f"{_pick(rng, PLACES)} {_pick(rng, BUSINESS)}"
        else:
            company = ""
        display = company or f"{first} {last}"
        if is_job:
            display = f"{_pick(rng, ('Remodel', 'Phase', 'Project', 'Store'))} {_int(rng, 1, 99)}"
        base, k = display, 2
        while display.casefold() in used:
            display = f"{base} ({k})"
            k += 1
        used.add(display.casefold())
        created = t0 - rng.uniform(1, 400) * 86400
        updated = rng.uniform(t0, t1) if rng.random() < 0.3 else created
        cust: dict[str, Any] = {
            "Taxable": rng.random() < 0.6,
            "BillAddr": _address(rng, 2 * i),
            "ShipAddr": _address(rng, 2 * i + 1),
            "Job": False,
            "BillWithParent": False,
            "Balance": 0.0,
            "BalanceWithJobs": 0.0,
            "CurrencyRef": USD,
            "PreferredDeliveryMethod": _pick(rng, ("Print", "Email", "None")),
            "IsProject": False,
            "ClientEntityId": "0",
            "domain": "QBO",
            "sparse": False,
            "Id": str(i),
            "SyncToken": str(_int(rng, 0, 3)) if updated > created else "0",
            "MetaData": _metadata(created, updated),
            "GivenName": first,
            "FamilyName": last,
            "FullyQualifiedName": display,
            "DisplayName": display,
            "PrintOnCheckName": company or f"{first} {last}",
            "Active": True,
            "V4IDPseudonym": f"0020{i:016x}",
            "PrimaryPhone": {"FreeFormNumber": f"({_int(rng, 200, 989)}) 555-{i % 10000:04d}"},
            "PrimaryEmailAddr": {"Address": f"{first.lower()}.{i}@example.com"},
        }
        if company:
            cust["CompanyName"] = company
        if rng.random() < 0.7:
            tid, tname, _ = _pick(rng, TERMS)
            cust["SalesTermRef"] = {"value": tid}
        if i > 5 and rng.random() < 0.06:
            cust["Active"] = False
        if rng.random() < 0.05 or tricky:
            cust["Notes"] = _pick(rng, TRICKY_TEXT)
        if i == 14 or (i > 14 and rng.random() < 0.002):
            cust["Notes"] = LONG_TEXT[:2000]
        if is_job:
            parent = _pick(rng, parents)
            cust.update(
                Job=True,
                BillWithParent=True,
                ParentRef={"value": parent["Id"]},
                Level=1,
                FullyQualifiedName=f"{parent['DisplayName']}:{display}",
            )
        elif cust["Active"]:
            parents.append(cust)
        customers.append(cust)
    return customers


def _items(rng: random.Random, n: int, t0: float, t1: float) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    categories: list[dict[str, Any]] = []
    n_cat = max(1, n // 20) if n >= 10 else 0
    for i in range(1, n + 1):
        created = t0 - rng.uniform(1, 400) * 86400
        updated = rng.uniform(t0, t1) if rng.random() < 0.25 else created
        item: dict[str, Any] = {
            "domain": "QBO",
            "sparse": False,
            "Id": str(i),
            "SyncToken": "1" if updated > created else "0",
            "MetaData": _metadata(created, updated),
            "Active": True,
            "Taxable": False,
        }
        # The first few items are plain, priced and active: the order demo relies on them.
        if 5 < i <= 5 + n_cat:
            name = f"{_pick(rng, PLACES)} {_pick(rng, ITEM_NOUNS)}s"
            item.update(Type="Category", Name=f"{name} {i}", FullyQualifiedName=f"{name} {i}")
            item.pop("Taxable")
            categories.append(item)
            items.append(item)
            continue
        roll = rng.random()
        kind = "Service" if i in (3, 5) else "Inventory" if roll < 0.42 else "NonInventory"
        if i > 5 and roll > 0.68:
            kind = "Service"
        # Groups need priced items before them; at least one in any company of 15+ items.
        if i > 8 + n_cat and (rng.random() < 0.02 or (n >= 15 and i == 9 + n_cat)):
            kind = "Group"
        if kind == "Service":
            name = f"{_pick(rng, SERVICES)} {i}"
        else:
            name = f"{_pick(rng, ITEM_ADJ)} {_pick(rng, ITEM_NOUNS)} {i}"
        price = round(rng.uniform(1, 500), 2) if rng.random() < 0.8 else float(_int(rng, 1, 400))
        item.update(
            Name=name,
            Description=f"{name} — standard pack",
            FullyQualifiedName=name,
            Type=kind,
            Taxable=rng.random() < 0.5,
        )
        if kind == "Group":
            members = rng.sample([x for x in items if x.get("UnitPrice") is not None], 2)
            item["ItemGroupDetail"] = {
                "ItemGroupLine": [
                    {"ItemRef": {"value": m["Id"], "name": m["Name"], "type": "Item"}, "Qty": 1}
                    for m in members
                ]
            }
            items.append(item)
            continue
        item.update(
            UnitPrice=price,
            IncomeAccountRef=SERVICE_ACCOUNT if kind == "Service" else SALES_ACCOUNT,
            PurchaseCost=round(price * rng.uniform(0.3, 0.8), 2),
            TrackQtyOnHand=kind == "Inventory",
            PurchaseDesc=f"Purchase of {name}",
        )
        if kind != "Service":
            item["Sku"] = f"SKU-{i:06d}"
            item["ExpenseAccountRef"] = COGS_ACCOUNT
        if kind == "Inventory":
            item.update(
                QtyOnHand=float(_int(rng, 0, 500)),
                AssetAccountRef=INVENTORY_ACCOUNT,
                InvStartDate="2020-01-01",
            )
        if categories and rng.random() < 0.5 and i > 5:
            cat = _pick(rng, categories)
            item.update(
                SubItem=True,
                ParentRef={"value": cat["Id"], "name": cat["Name"]},
                Level=1,
                FullyQualifiedName=f"{cat['Name']}:{name}",
            )
        if i > 5 and rng.random() < 0.06:
            item["Active"] = False
        if i == 7 or (i > 7 and rng.random() < 0.01):
            item["Description"] = _pick(rng, TRICKY_TEXT)
        items.append(item)
    return items


def _sales_line(
    rng: random.Random, line_id: int, item: dict[str, Any], ref: dict[str, Any], void: bool
) -> dict[str, Any]:
    qty = float(_int(rng, 1, 20)) if rng.random() < 0.9 else _int(rng, 1, 40) / 4
    price = item["UnitPrice"]
    amount = 0.0 if void else round(qty * price, 2)
    desc = item.get("Description") or item["Name"]
    if rng.random() < 0.02:
        desc = _pick(rng, TRICKY_TEXT)
    return {
        "Id": str(line_id),
        "LineNum": line_id,
        "Description": desc,
        "Amount": amount,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {
            "ItemRef": ref,
            "UnitPrice": price,
            "Qty": 0 if void else qty,
            "ItemAccountRef": item.get("IncomeAccountRef", SALES_ACCOUNT),
            "TaxCodeRef": TAX_TAX if item.get("Taxable") else TAX_NON,
        },
    }


def _invoices(
    rng: random.Random,
    n: int,
    customers: list[dict[str, Any]],
    items: list[dict[str, Any]],
    t0: float,
    t1: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    active_customers = [c for c in customers if c["Active"]] or customers
    priced = [i for i in items if i.get("UnitPrice") is not None and i["Active"]]
    groups = [i for i in items if i.get("Type") == "Group"]
    item_by_id = {i["Id"]: i for i in items}
    if not priced or not active_customers:
        return [], []
    cust_refs = {c["Id"]: {"value": c["Id"], "name": c["DisplayName"]} for c in customers}
    item_refs = {i["Id"]: {"value": i["Id"], "name": i["Name"]} for i in items}
    terms = {t[0]: t for t in TERMS}
    times = sorted(rng.uniform(t0, t1) for _ in range(n))
    invoices: list[dict[str, Any]] = []
    deleted: list[dict[str, Any]] = []
    txn_id = 100
    for k, created in enumerate(times):
        txn_id += 1
        roll = rng.random()
        updated = created if roll < 0.7 else rng.uniform(created, t1)
        # k == 7..10 force one of each rare shape so that small companies show them too.
        if k == 7 or (k > 3 and rng.random() < 0.01):
            deleted.append(
                {
                    "Id": str(txn_id),
                    "status": "Deleted",
                    "domain": "QBO",
                    "MetaData": {"LastUpdatedTime": qbo_time(rng.uniform(created, t1))},
                }
            )
            continue
        cust = _pick(rng, active_customers)
        void = k == 8 or (k > 3 and rng.random() < 0.02)
        lines: list[dict[str, Any]] = []
        line_id = 0
        for _ in range(_int(rng, 1, 7)):
            line_id += 1
            item = _pick(rng, priced)
            lines.append(_sales_line(rng, line_id, item, item_refs[item["Id"]], void))
        if groups and (k == 9 or rng.random() < 0.1):
            group = _pick(rng, groups)
            line_id += 1
            inner: list[dict[str, Any]] = []
            gqty = float(_int(rng, 1, 3))
            for member in group["ItemGroupDetail"]["ItemGroupLine"]:
                line_id += 1
                sub = item_by_id[member["ItemRef"]["value"]]
                inner.append(_sales_line(rng, line_id, sub, item_refs[sub["Id"]], void))
            lines.append(
                {
                    "Id": str(line_id - len(inner)),
                    "LineNum": len(lines) + 1,
                    "Description": group.get("Description", group["Name"]),
                    "Amount": round(sum(x["Amount"] for x in inner), 2),
                    "DetailType": "GroupLineDetail",
                    "GroupLineDetail": {
                        "GroupItemRef": item_refs[group["Id"]],
                        "Quantity": gqty,
                        "Line": inner,
                    },
                }
            )
        if k == 9 or rng.random() < 0.15:
            line_id += 1
            lines.append(
                {
                    "Id": str(line_id),
                    "LineNum": len(lines) + 1,
                    "Description": _pick(rng, TRICKY_TEXT + ("Thank you for your business!",)),
                    "DetailType": "DescriptionOnly",
                    "DescriptionLineDetail": {},
                }
            )
        subtotal = round(sum(x.get("Amount", 0.0) for x in lines), 2)
        lines.append(
            {"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
        )
        total = subtotal
        if (k == 10 or rng.random() < 0.1) and not void:
            pct = float(_pick(rng, (5, 10, 15)))
            discount = round(subtotal * pct / 100, 2)
            total = round(subtotal - discount, 2)
            lines.append(
                {
                    "Amount": discount,
                    "DetailType": "DiscountLineDetail",
                    "DiscountLineDetail": {
                        "PercentBased": True,
                        "DiscountPercent": pct,
                        "DiscountAccountRef": DISCOUNT_ACCOUNT,
                    },
                }
            )
        term = terms[cust.get("SalesTermRef", {"value": "3"})["value"]]
        txn_date = local_date(created)
        due = (dt.date.fromisoformat(txn_date) + dt.timedelta(days=term[2])).isoformat()
        paid = not void and rng.random() < 0.4
        inv: dict[str, Any] = {
            "AllowIPNPayment": False,
            "AllowOnlinePayment": False,
            "AllowOnlineCreditCardPayment": False,
            "AllowOnlineACHPayment": False,
            "domain": "QBO",
            "sparse": False,
            "Id": str(txn_id),
            "SyncToken": "0" if updated == created else str(_int(rng, 1, 3)),
            "MetaData": _metadata(created, updated),
            "CustomField": [],
            "DocNumber": str(1000 + txn_id),
            "TxnDate": txn_date,
            "CurrencyRef": USD,
            "LinkedTxn": [{"TxnId": str(5_000_000 + txn_id), "TxnType": "Payment"}] if paid else [],
            "Line": lines,
            "TxnTaxDetail": {"TotalTax": 0.0},
            "CustomerRef": cust_refs[cust["Id"]],
            "BillAddr": cust["BillAddr"],
            "ShipAddr": cust["ShipAddr"],
            "FreeFormAddress": True,
            "SalesTermRef": {"value": term[0], "name": term[1]},
            "DueDate": due,
            "TotalAmt": 0.0 if void else total,
            "ApplyTaxAfterDiscount": False,
            "PrintStatus": "NotSet",
            "EmailStatus": _pick(rng, ("NotSet", "EmailSent")),
            "BillEmail": cust["PrimaryEmailAddr"],
            "Balance": 0.0 if (void or paid) else total,
            "Deposit": 0,
        }
        if rng.random() < 0.2:
            inv["CustomerMemo"] = {"value": _pick(rng, TRICKY_TEXT)}
        if k == 2:
            inv["CustomerMemo"] = {"value": LONG_TEXT[:1000]}
        if void:
            inv["PrivateNote"] = "Voided"
        invoices.append(inv)
    return invoices, deleted


def _small_lists(t0: float) -> dict[str, list[dict[str, Any]]]:
    meta = _metadata(t0 - 400 * 86400, t0 - 400 * 86400)
    base = {"domain": "QBO", "sparse": False, "SyncToken": "0", "MetaData": meta}
    terms = [
        {**base, "Id": tid, "Name": name, "Active": True, "Type": "STANDARD", "DueDays": days}
        for tid, name, days in TERMS
    ]
    accounts = [
        {**base, "Id": ref["value"], "Name": ref["name"], "Active": True, "AccountType": kind}
        for ref, kind in (
            (SERVICE_ACCOUNT, "Income"),
            (SALES_ACCOUNT, "Income"),
            (COGS_ACCOUNT, "Cost of Goods Sold"),
            (INVENTORY_ACCOUNT, "Other Current Asset"),
            (DISCOUNT_ACCOUNT, "Income"),
        )
    ]
    employees = [
        {
            **base,
            "Id": str(50 + k),
            "GivenName": first,
            "FamilyName": last,
            "DisplayName": f"{first} {last}",
            "PrintOnCheckName": f"{first} {last}",
            "Active": k != 4,
            "EmployeeNumber": f"REP{k + 1:02d}",
            "PrimaryEmailAddr": {"Address": f"{first.lower()}@example.com"},
        }
        for k, (first, last) in enumerate(
            (
                ("Ana", "Ruiz"),
                ("Ben", "Okafor"),
                ("Chloé", "Martin"),
                ("Dev", "Patel"),
                ("Eli", "Ng"),
            )
        )
    ]
    vendors = [
        {
            **base,
            "Id": str(60 + k),
            "DisplayName": name,
            "CompanyName": name,
            "PrintOnCheckName": name,
            "Active": k != 3,
            "Balance": 0.0,
            "Vendor1099": False,
            "CurrencyRef": USD,
        }
        for k, name in enumerate(
            ("Acme Fasteners", "Nordic Pumps AB", "Gärtner Großhandel", "Old Supplier Inc.")
        )
    ]
    return {"terms": terms, "accounts": accounts, "employees": employees, "vendors": vendors}


def generate_company(
    customers: int = 50,
    items: int = 30,
    invoices: int = 120,
    days: int = 10,
    seed: int = 7,
    end_date: dt.date | None = None,
) -> SampleCompany:
    """Generate a deterministic sample company.

    Args:
        customers: Number of customers (about 8% are jobs, about 6% inactive).
        items: Number of items (categories, groups, inventory, non-inventory, services).
        invoices: Number of invoice Ids drawn; about 1% become deleted tombstones.
        days: Invoice activity spreads over this many days ending ``end_date``.
        seed: Random seed.
        end_date: Last day (UTC) of the window; default today. Timestamps never lie in the
            future, so only a past ``end_date`` gives byte-identical output across runs.

    Returns:
        The generated company.
    """
    # Millions of small acyclic dicts would trigger the cyclic GC over and over (about half of
    # the run time at full size); nothing here creates cycles, so pause it.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(customers, items, invoices, days, seed, end_date)
    finally:
        if was_enabled:
            gc.enable()


def _generate(
    customers: int, items: int, invoices: int, days: int, seed: int, end_date: dt.date | None
) -> SampleCompany:
    rng = random.Random(seed)
    days = max(1, days)
    t0, t1 = _window(days, end_date)
    custs = _customers(rng, customers, t0, t1)
    its = _items(rng, items, t0, t1)
    invs, deleted = _invoices(rng, invoices, custs, its, t0, t1)
    balances: dict[str, float] = {}
    for inv in invs:
        if inv["Balance"]:
            cid = inv["CustomerRef"]["value"]
            balances[cid] = balances.get(cid, 0.0) + inv["Balance"]
    for cust in custs:
        bal = round(balances.get(cust["Id"], 0.0), 2)
        cust["Balance"] = bal
        cust["BalanceWithJobs"] = bal
    for cust in custs:
        if cust["Job"] and cust["Balance"]:
            parent = custs[int(cust["ParentRef"]["value"]) - 1]
            parent["BalanceWithJobs"] = round(parent["BalanceWithJobs"] + cust["Balance"], 2)
    return SampleCompany(
        customers=custs,
        items=its,
        invoices=invs,
        deleted_invoices=deleted,
        preferences=default_preferences(True),
        company_name=f"Sandbox Distributors {seed}",
        window_start=qbo_time(t0),
        window_end=qbo_time(t1),
        **_small_lists(t0),
    )
