"""Customers of the sample company: companies and people, jobs, inactive rows, tricky names."""

from __future__ import annotations

import random
from typing import Any

from qbpa_assets.sandbox.company.common import address, between, metadata, pick
from qbpa_assets.sandbox.company.vocabulary import (
    BUSINESS,
    FIRST,
    LAST,
    LONG_TEXT,
    PLACES,
    TERMS,
    TRICKY_NAMES,
    TRICKY_TEXT,
    USD,
)


def customers(rng: random.Random, n: int, t0: float, t1: float) -> list[dict[str, Any]]:
    """Generate ``n`` customers created before ``t0``, some updated in ``[t0, t1]``."""
    customers: list[dict[str, Any]] = []
    used: set[str] = set()
    parents: list[dict[str, Any]] = []
    for i in range(1, n + 1):
        first, last = pick(rng, FIRST), pick(rng, LAST)
        is_job = i > 8 and parents and rng.random() < 0.08
        tricky = 6 <= i < 6 + len(TRICKY_NAMES)
        if tricky:
            company = TRICKY_NAMES[i - 6]
        elif rng.random() < 0.7:
            company = f"{pick(rng, PLACES)} {pick(rng, BUSINESS)}"
        else:
            company = ""
        display = company or f"{first} {last}"
        if is_job:
            display = f"{pick(rng, ('Remodel', 'Phase', 'Project', 'Store'))} {between(rng, 1, 99)}"
        base, k = display, 2
        while display.casefold() in used:
            display = f"{base} ({k})"
            k += 1
        used.add(display.casefold())
        created = t0 - rng.uniform(1, 400) * 86400
        updated = rng.uniform(t0, t1) if rng.random() < 0.3 else created
        cust: dict[str, Any] = {
            "Taxable": rng.random() < 0.6,
            "BillAddr": address(rng, 2 * i),
            "ShipAddr": address(rng, 2 * i + 1),
            "Job": False,
            "BillWithParent": False,
            "Balance": 0.0,
            "BalanceWithJobs": 0.0,
            "CurrencyRef": USD,
            "PreferredDeliveryMethod": pick(rng, ("Print", "Email", "None")),
            "IsProject": False,
            "ClientEntityId": "0",
            "domain": "QBO",
            "sparse": False,
            "Id": str(i),
            "SyncToken": str(between(rng, 0, 3)) if updated > created else "0",
            "MetaData": metadata(created, updated),
            "GivenName": first,
            "FamilyName": last,
            "FullyQualifiedName": display,
            "DisplayName": display,
            "PrintOnCheckName": company or f"{first} {last}",
            "Active": True,
            "V4IDPseudonym": f"0020{i:016x}",
            "PrimaryPhone": {"FreeFormNumber": f"({between(rng, 200, 989)}) 555-{i % 10000:04d}"},
            "PrimaryEmailAddr": {"Address": f"{first.lower()}.{i}@example.com"},
        }
        if company:
            cust["CompanyName"] = company
        if rng.random() < 0.7:
            tid, tname, _ = pick(rng, TERMS)
            cust["SalesTermRef"] = {"value": tid}
        if i > 5 and rng.random() < 0.06:
            cust["Active"] = False
        if rng.random() < 0.05 or tricky:
            cust["Notes"] = pick(rng, TRICKY_TEXT)
        if i == 14 or (i > 14 and rng.random() < 0.002):
            cust["Notes"] = LONG_TEXT[:2000]
        if is_job:
            parent = pick(rng, parents)
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
