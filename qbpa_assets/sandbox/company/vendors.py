"""Vendors of the sample company, and the preferred vendor (``PrefVendorRef``) of its items.

Drawn from the company's second random stream (see ``reps.py``), so that adding them leaves
every customer, item and invoice of the first stream as it was. The first four vendors are the
original ones (Ids 60-63, the fourth inactive); their values are kept and their contact fields
added.
"""

from __future__ import annotations

import random
from typing import Any

from qbpa_assets.sandbox.company.common import address, between, pick
from qbpa_assets.sandbox.company.vocabulary import TERMS

MORE_VENDORS = (
    ("Pacific Valve Co.", "Mara", "Lindgren", True),
    ('Tool & Die "Express"', "Tom", "O'Neil", False),
    ("Søndergaard Fittings ApS", "Sofie", "Søndergaard", True),
    ("Closed Hardware Ltd.", "Pat", "Doyle", False),  # inactive
)
# Contact names of the four original vendors (added, their other values unchanged).
CONTACTS = {
    "Acme Fasteners": ("Lena", "Brooks"),
    "Nordic Pumps AB": ("Erik", "Holm"),
    "Gärtner Großhandel": ("Jörg", "Gärtner"),
    "Old Supplier Inc.": ("Bill", "Oldham"),
}
INACTIVE_VENDORS = frozenset({"Old Supplier Inc.", "Closed Hardware Ltd."})


def extend_vendors(
    rng: random.Random, vendors: list[dict[str, Any]], first_address_id: int
) -> list[dict[str, Any]]:
    """Add contact details to ``vendors`` (in place) and append the other vendors; return all."""
    base = {k: vendors[0][k] for k in ("domain", "sparse", "SyncToken", "MetaData")}
    for k, (name, given, family, is_1099) in enumerate(MORE_VENDORS):
        vendors.append(
            {
                **base,
                "Id": str(60 + len(vendors)),
                "DisplayName": name,
                "CompanyName": name,
                "PrintOnCheckName": name,
                "GivenName": given,
                "FamilyName": family,
                "Active": name not in INACTIVE_VENDORS,
                "Balance": round(rng.uniform(0, 25_000), 2) if k % 2 == 0 else 0.0,
                "Vendor1099": is_1099,
                "CurrencyRef": vendors[0]["CurrencyRef"],
            }
        )
    for n, vendor in enumerate(vendors):
        given, family = CONTACTS.get(vendor["DisplayName"], ("", ""))
        if given:
            vendor.setdefault("GivenName", given)
            vendor.setdefault("FamilyName", family)
        slug = "".join(ch for ch in vendor["DisplayName"].lower() if ch.isascii() and ch.isalnum())
        term_id, term_name, _ = pick(rng, TERMS)
        vendor.update(
            BillAddr=address(rng, first_address_id + n),
            PrimaryPhone={
                "FreeFormNumber": f"({between(rng, 200, 989)}) 555-{between(rng, 0, 9999):04d}"
            },
            PrimaryEmailAddr={"Address": f"orders@{slug[:20] or 'vendor'}.example.com"},
            WebAddr={"URI": f"https://{slug[:20] or 'vendor'}.example.com"},
            AcctNum=f"ACCT-{between(rng, 10000, 99999)}",
            TermRef={"value": term_id, "name": term_name},
        )
    return vendors


def prefer_vendors(
    rng: random.Random, items: list[dict[str, Any]], vendors: list[dict[str, Any]]
) -> None:
    """Give about two thirds of the stock items (inventory, non-inventory) a preferred vendor."""
    active = [v for v in vendors if v["Active"]]
    refs = [{"value": v["Id"], "name": v["DisplayName"]} for v in active]
    if not refs:
        return
    for item in items:
        if item.get("Type") in ("Inventory", "NonInventory") and rng.random() < 0.67:
            item["PrefVendorRef"] = pick(rng, refs)
