"""Sales reps of the sample company, as QuickBooks Online companies keep them.

QBO has no sales-rep list; companies use Employees, Classes, or a transaction custom field. The
sample company has all three, consistent with each other: every employee is a rep (Ids 50-56,
two inactive), each rep has a Class of the same name, and the Preferences define one String
custom field, "Sales Rep" (``DefinitionId`` 1), whose value on a transaction is the rep's
initials. Most invoices carry their rep both ways (the custom field and ``ClassRef``); each
customer has a usual rep that most of its invoices carry.

Everything here is drawn from a second random stream (``random.Random(f"reps:{seed}")``), so
the entities of the first stream (customers, items, invoices) keep their values.
"""

from __future__ import annotations

import random
from typing import Any

from qbpa_assets.sandbox.company.common import address, between, pick

SALES_REP_FIELD = "Sales Rep"
MORE_REPS = (("Farah", "Haddad", True), ("Gus", "Lindqvist", False))
CLASS_ID_BASE = 5_000_000_000


def initials(name: str) -> str:
    """``Ana Ruiz`` → ``AR``."""
    return "".join(word[0] for word in name.split() if word).upper()


def custom_field_preferences(names: tuple[str, ...]) -> list[dict[str, Any]]:
    """``SalesFormsPrefs.CustomField`` as QBO returns it for up to three String fields.

    QBO's shape: a group of ``UseSalesCustom<N>`` switches and a group of ``SalesCustomName<N>``
    labels; field ``N`` is the ``DefinitionId`` a transaction's ``CustomField`` uses.
    """
    if len(names) > 3:
        raise ValueError("QuickBooks Online allows at most three transaction custom fields")
    switches = [
        {
            "Name": f"SalesFormsPrefs.UseSalesCustom{n}",
            "Type": "BooleanType",
            "BooleanValue": n <= len(names),
        }
        for n in (1, 2, 3)
    ]
    labels = [
        {"Name": f"SalesFormsPrefs.SalesCustomName{n}", "Type": "StringType", "StringValue": name}
        for n, name in enumerate(names, start=1)
    ]
    return [{"CustomField": switches}, {"CustomField": labels}]


def extend_employees(
    rng: random.Random, employees: list[dict[str, Any]], first_address_id: int
) -> list[dict[str, Any]]:
    """Add address and phone to ``employees`` (in place), append two more reps; return all."""
    base = {k: employees[0][k] for k in ("domain", "sparse", "SyncToken", "MetaData")}
    for first, last, active in MORE_REPS:
        k = len(employees)
        employees.append(
            {
                **base,
                "Id": str(50 + k),
                "GivenName": first,
                "FamilyName": last,
                "DisplayName": f"{first} {last}",
                "PrintOnCheckName": f"{first} {last}",
                "Active": active,
                "EmployeeNumber": f"REP{k + 1:02d}",
                "PrimaryEmailAddr": {"Address": f"{first.lower()}@example.com"},
            }
        )
    for n, emp in enumerate(employees):
        emp.update(
            PrimaryAddr=address(rng, first_address_id + n),
            PrimaryPhone={"FreeFormNumber": f"({between(rng, 200, 989)}) 555-{100 + n:04d}"},
        )
    return employees


def rep_classes(employees: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One Class per rep, named like the rep and active like the rep."""
    return [
        {
            "domain": "QBO",
            "sparse": False,
            "Id": str(CLASS_ID_BASE + n),
            "SyncToken": "0",
            "MetaData": emp["MetaData"],
            "Name": emp["DisplayName"],
            "SubClass": False,
            "FullyQualifiedName": emp["DisplayName"],
            "Active": emp["Active"],
        }
        for n, emp in enumerate(employees, start=1)
    ]


def assign_reps(
    rng: random.Random,
    invoices: list[dict[str, Any]],
    customers: list[dict[str, Any]],
    employees: list[dict[str, Any]],
    classes: list[dict[str, Any]],
) -> None:
    """Put a rep on most invoices (in place): the custom field "Sales Rep" and ``ClassRef``.

    Each customer has a usual rep (an active one); 80% of its invoices carry it, 10% another
    rep (now and then an inactive one, who left), 10% none.
    """
    reps = []
    for emp, cls in zip(employees, classes, strict=True):
        field = [
            {
                "DefinitionId": "1",
                "Name": SALES_REP_FIELD,
                "Type": "StringType",
                "StringValue": initials(emp["DisplayName"]),
            }
        ]
        # Shared, read-only sub-objects: big companies hold one copy per rep.
        reps.append((emp["Active"], field, {"value": cls["Id"], "name": cls["Name"]}))
    active = [r for r in reps if r[0]]
    if not active:
        return
    usual = {c["Id"]: pick(rng, active) for c in customers}
    for inv in invoices:
        roll = rng.random()
        if roll < 0.8:
            rep = usual.get(inv["CustomerRef"]["value"], active[0])
        elif roll < 0.9:
            rep = pick(rng, reps)
        else:
            continue
        inv["CustomField"] = rep[1]
        inv["ClassRef"] = rep[2]
