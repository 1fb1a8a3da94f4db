"""Invoices of the sample company: sales, group, description, sub-total and discount lines.

Paid, voided and deleted ones too.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from qbpa_assets.sandbox.company.common import between, local_date, metadata, pick, qbo_time
from qbpa_assets.sandbox.company.vocabulary import (
    DISCOUNT_ACCOUNT,
    LONG_TEXT,
    SALES_ACCOUNT,
    TAX_NON,
    TAX_TAX,
    TERMS,
    TRICKY_TEXT,
    USD,
)


def _sales_line(
    rng: random.Random, line_id: int, item: dict[str, Any], ref: dict[str, Any], void: bool
) -> dict[str, Any]:
    qty = float(between(rng, 1, 20)) if rng.random() < 0.9 else between(rng, 1, 40) / 4
    price = item["UnitPrice"]
    amount = 0.0 if void else round(qty * price, 2)
    desc = item.get("Description") or item["Name"]
    if rng.random() < 0.02:
        desc = pick(rng, TRICKY_TEXT)
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


def invoices(
    rng: random.Random,
    n: int,
    customers: list[dict[str, Any]],
    items: list[dict[str, Any]],
    t0: float,
    t1: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Generate ``n`` invoice Ids over ``[t0, t1]``; return (invoices, deleted tombstones)."""
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
        cust = pick(rng, active_customers)
        void = k == 8 or (k > 3 and rng.random() < 0.02)
        lines: list[dict[str, Any]] = []
        line_id = 0
        for _ in range(between(rng, 1, 7)):
            line_id += 1
            item = pick(rng, priced)
            lines.append(_sales_line(rng, line_id, item, item_refs[item["Id"]], void))
        if groups and (k == 9 or rng.random() < 0.1):
            group = pick(rng, groups)
            line_id += 1
            inner: list[dict[str, Any]] = []
            gqty = float(between(rng, 1, 3))
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
                    "Description": pick(rng, TRICKY_TEXT + ("Thank you for your business!",)),
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
            pct = float(pick(rng, (5, 10, 15)))
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
            "SyncToken": "0" if updated == created else str(between(rng, 1, 3)),
            "MetaData": metadata(created, updated),
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
            "EmailStatus": pick(rng, ("NotSet", "EmailSent")),
            "BillEmail": cust["PrimaryEmailAddr"],
            "Balance": 0.0 if (void or paid) else total,
            "Deposit": 0,
        }
        if rng.random() < 0.2:
            inv["CustomerMemo"] = {"value": pick(rng, TRICKY_TEXT)}
        if k == 2:
            inv["CustomerMemo"] = {"value": LONG_TEXT[:1000]}
        if void:
            inv["PrivateNote"] = "Voided"
        invoices.append(inv)
    return invoices, deleted
