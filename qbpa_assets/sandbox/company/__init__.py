"""A deterministic sample QuickBooks Online company.

Objects are the JSON dicts QBO returns (minor version 75): Customers with addresses, jobs and
inactive rows; Items of every type; Invoices with sales, group, discount, sub-total and
description lines, voided and deleted ones, and text that breaks naive exporters (tabs,
newlines, quotes, non-ASCII, emoji, very long values).

Where each part is made: ``customers.py``, ``items.py``, ``invoices.py``, ``lists.py`` (terms,
accounts, Preferences), ``vendors.py`` (vendors, items' preferred vendor), ``reps.py``
(employees who are reps, their classes, the "Sales Rep" custom field, the rep on invoices);
``vocabulary.py`` holds the words and fixed references, ``common.py`` the random and time
helpers.

Big companies share small immutable sub-dicts (refs, addresses) between objects to keep memory
low: treat the returned objects as read-only (the emulator replaces, never mutates, them).
"""

from __future__ import annotations

import datetime as dt
import gc
import random
from dataclasses import dataclass, field
from typing import Any

from qbpa_assets.sandbox.company.common import local_date, qbo_time, window
from qbpa_assets.sandbox.company.customers import customers as make_customers
from qbpa_assets.sandbox.company.invoices import invoices as make_invoices
from qbpa_assets.sandbox.company.items import items as make_items
from qbpa_assets.sandbox.company.lists import default_preferences, small_lists
from qbpa_assets.sandbox.company.reps import (
    SALES_REP_FIELD,
    assign_reps,
    extend_employees,
    rep_classes,
)
from qbpa_assets.sandbox.company.vendors import extend_vendors, prefer_vendors
from qbpa_assets.sandbox.company.vocabulary import (
    COMPANY_TZ,
    DISCOUNT_ACCOUNT,
    SALES_ACCOUNT,
    TAX_NON,
    TAX_TAX,
    USD,
)

__all__ = [
    "COMPANY_TZ",
    "DISCOUNT_ACCOUNT",
    "SALES_ACCOUNT",
    "TAX_NON",
    "TAX_TAX",
    "USD",
    "SALES_REP_FIELD",
    "SampleCompany",
    "default_preferences",
    "generate_company",
    "local_date",
    "qbo_time",
]


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
    classes: list[dict[str, Any]] = field(default_factory=list)
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
    t0, t1 = window(days, end_date)
    custs = make_customers(rng, customers, t0, t1)
    its = make_items(rng, items, t0, t1)
    invs, deleted = make_invoices(rng, invoices, custs, its, t0, t1)
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
    lists = small_lists(t0)
    # Vendors and reps come from a second stream: the first one's entities stay as they were.
    side = random.Random(f"reps:{seed}")
    address_id = 2 * customers + 2
    vendors = extend_vendors(side, lists.pop("vendors"), address_id)
    prefer_vendors(side, its, vendors)
    employees = extend_employees(side, lists.pop("employees"), address_id + len(vendors))
    classes = rep_classes(employees)
    assign_reps(side, invs, custs, employees, classes)
    return SampleCompany(
        customers=custs,
        items=its,
        invoices=invs,
        deleted_invoices=deleted,
        preferences=default_preferences(True),
        company_name=f"Sandbox Distributors {seed}",
        window_start=qbo_time(t0),
        window_end=qbo_time(t1),
        vendors=vendors,
        employees=employees,
        classes=classes,
        **lists,
    )
