"""DocNumber look-ups in QuickBooks, and which existing document may be adopted.

Before creating, the importer looks its DocNumbers up: a document an earlier crashed run created
(accepted by QuickBooks, never written to the ledger) is adopted instead of created twice. Only a
document that carries this order's own marker (:func:`~.payloads.order_marker`, written into
PrivateNote by code whatever the mapping says) is adopted; any other document with the number —
made by hand, or by qbpa for another order — makes the order a reject naming that document.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from qbpa_assets.lib.orders.payloads import read_marker
from qbpa_assets.lib.orders.window import WindowOrder, order_sort_key

LOOKUP_CHUNK = 50  # DocNumbers per lookup query (keeps the query string short)


def qbo_quote(value: str) -> str:
    """A string literal for the QuickBooks query language (backslash escapes a quote)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def lookup_doc_numbers(
    client: Any, entity: str, doc_numbers: Iterable[str]
) -> dict[str, list[dict]]:
    """Find existing documents of ``entity`` by DocNumber, in chunks.

    Returns:
        DocNumber → the documents QuickBooks returned (normally one).
    """
    found: dict[str, list[dict]] = {}
    unique = sorted({d for d in doc_numbers if d})
    for i in range(0, len(unique), LOOKUP_CHUNK):
        chunk = unique[i : i + LOOKUP_CHUNK]
        statement = (
            f"select * from {entity} where DocNumber in "
            f"({', '.join(qbo_quote(d) for d in chunk)}) MAXRESULTS 1000"
        )
        response = client.query(statement)
        for doc in response.get(entity, []) or []:
            found.setdefault(str(doc.get("DocNumber")), []).append(doc)
    return found


@dataclass(frozen=True)
class Adoption:
    """The decision for one order whose DocNumber exists in QuickBooks.

    Attributes:
        doc: The document to adopt (carries this order's marker), or None.
        sent_hash: The hash prefix the adopted document was created with (from its marker).
        conflict: Why the order is rejected instead, naming the QuickBooks document.
    """

    doc: dict | None
    sent_hash: str | None = None
    conflict: str | None = None


def adopt_or_conflict(order: WindowOrder, docs: list[dict], entity: str) -> Adoption:
    """Adopt the document an earlier run created for this order, or explain the conflict."""
    mine = []
    for doc in docs:
        marker = read_marker(doc)
        if marker is not None and marker[0] == order.order_id:
            mine.append((doc, marker[1]))
    if mine:
        doc, sent_hash = sorted(mine, key=lambda d: order_sort_key(str(d[0].get("Id"))))[0]
        return Adoption(doc, sent_hash=sent_hash)
    other = docs[0]
    marker = read_marker(other)
    maker = (
        f"created by qbpa for order {marker[0]}"
        if marker is not None
        else "not created by qbpa for this order"
    )
    customer = str((other.get("CustomerRef") or {}).get("value"))
    whose = (
        "for the same customer"
        if customer == str(order.customer_id)
        else f"for another customer ({customer})"
    )
    return Adoption(
        None,
        conflict=(
            f"DocNumber {order.doc_number} is already used in QuickBooks by {entity} "
            f"{other.get('Id')} {whose}, {maker} (QuickBooks document number "
            f"{other.get('DocNumber')}): change the order number, or remove that document"
        ),
    )
