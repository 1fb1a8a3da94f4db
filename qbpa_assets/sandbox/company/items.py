"""Items of the sample company: categories, groups, inventory, non-inventory and services."""

from __future__ import annotations

import random
from typing import Any

from qbpa_assets.sandbox.company.common import between, metadata, pick
from qbpa_assets.sandbox.company.vocabulary import (
    COGS_ACCOUNT,
    INVENTORY_ACCOUNT,
    ITEM_ADJ,
    ITEM_NOUNS,
    PLACES,
    SALES_ACCOUNT,
    SERVICE_ACCOUNT,
    SERVICES,
    TRICKY_TEXT,
)


def items(rng: random.Random, n: int, t0: float, t1: float) -> list[dict[str, Any]]:
    """Generate ``n`` items (the first five plain, priced and active)."""
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
            "MetaData": metadata(created, updated),
            "Active": True,
            "Taxable": False,
        }
        # The first few items are plain, priced and active: the order demo relies on them.
        if 5 < i <= 5 + n_cat:
            name = f"{pick(rng, PLACES)} {pick(rng, ITEM_NOUNS)}s"
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
            name = f"{pick(rng, SERVICES)} {i}"
        else:
            name = f"{pick(rng, ITEM_ADJ)} {pick(rng, ITEM_NOUNS)} {i}"
        price = round(rng.uniform(1, 500), 2) if rng.random() < 0.8 else float(between(rng, 1, 400))
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
                QtyOnHand=float(between(rng, 0, 500)),
                AssetAccountRef=INVENTORY_ACCOUNT,
                InvStartDate="2020-01-01",
            )
        if categories and rng.random() < 0.5 and i > 5:
            cat = pick(rng, categories)
            item.update(
                SubItem=True,
                ParentRef={"value": cat["Id"], "name": cat["Name"]},
                Level=1,
                FullyQualifiedName=f"{cat['Name']}:{name}",
            )
        if i > 5 and rng.random() < 0.06:
            item["Active"] = False
        if i == 7 or (i > 7 and rng.random() < 0.01):
            item["Description"] = pick(rng, TRICKY_TEXT)
        items.append(item)
    return items
