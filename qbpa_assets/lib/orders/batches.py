"""QuickBooks batch requests for orders: deterministic ids, and each answer → a ledger row.

A batch carries a deterministic ``requestid`` (realm + entity + order ids + content hashes), so a
request retried after a lost response is answered by QuickBooks from its idempotency cache
instead of creating twice. A per-item Fault rejects only that order; a duplicate-DocNumber Fault
(6140) is settled by a look-up (:mod:`.lookup`): adopted when the document is this order's own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from qbpa_assets.lib.orders.ledger import LedgerRow
from qbpa_assets.lib.orders.lookup import adopt_or_conflict, lookup_doc_numbers
from qbpa_assets.lib.orders.results import ImportResult, ledger_row
from qbpa_assets.lib.orders.window import WindowOrder, order_sort_key
from qbpa_assets.lib.quickbooks.limits import BATCH_REQUEST_ID_MAX

_PREFIX = "qbpa-"


def batch_request_id(realm_id: str, entity: str, orders: Sequence[tuple[str, str]]) -> str:
    """Deterministic ``requestid`` for a batch (≤ 36 chars).

    Args:
        realm_id: The QuickBooks company.
        entity: Target entity.
        orders: ``(order_id, order_hash)`` of the batch's orders.

    Returns:
        ``qbpa-`` + 31 hex characters of SHA-256 over realm, entity and the sorted orders.
    """
    h = hashlib.sha256(f"{realm_id}\n{entity}".encode())
    for order_id, order_hash in sorted(orders, key=lambda o: order_sort_key(o[0])):
        h.update(f"\n{order_id}\t{order_hash}".encode())
    return _PREFIX + h.hexdigest()[: BATCH_REQUEST_ID_MAX - len(_PREFIX)]


def item_batch_id(order_id: str) -> str:
    """Deterministic ``bId`` of an order inside a batch."""
    return "o" + hashlib.sha1(order_id.encode()).hexdigest()[:16]  # noqa: S324 - not security


def fault_text(fault: dict) -> tuple[str, str]:
    """(code, message) of a per-item Fault."""
    errors = fault.get("Error") or [{}]
    err = errors[0] if isinstance(errors, list) else errors
    code = str(err.get("code", ""))
    message = str(err.get("Message", "")).strip()
    detail = str(err.get("Detail", "")).strip()
    text = message if not detail or detail == message else f"{message}: {detail}"
    return code, text or json.dumps(fault)[:300]


def batch_rows(
    client: Any,
    entity: str,
    by_bid: dict[str, WindowOrder],
    responses: list[dict],
    request_id: str,
    result: ImportResult,
    warnings: dict[str, list[str]],
) -> list[LedgerRow]:
    """Turn one batch's responses into ledger rows (6140 duplicates settled by a look-up)."""
    rows: list[LedgerRow] = []
    seen: set[str] = set()
    duplicates: list[WindowOrder] = []

    def add(row: LedgerRow, bucket: list[LedgerRow]) -> None:
        row.warnings = list(warnings.get(row.order_id, [])) if row.status != "rejected" else []
        bucket.append(row)
        rows.append(row)

    for response in responses:
        order = by_bid.get(str(response.get("bId")))
        if order is None:
            continue
        seen.add(order.order_id)
        doc = response.get(entity)
        if isinstance(doc, dict) and doc.get("Id") is not None:
            add(
                ledger_row(order, entity, "created", doc=doc, request_id=request_id), result.created
            )
            continue
        code, text = fault_text(response.get("Fault") or {})
        if code == "6140":
            duplicates.append(order)
            continue
        reason = f"QuickBooks refused it ({code}): {text}"
        add(ledger_row(order, entity, "rejected", [reason], request_id=request_id), result.rejected)
    for order in by_bid.values():
        if order.order_id not in seen:
            reason = "QuickBooks returned no response for this order"
            row = ledger_row(order, entity, "rejected", [reason], request_id=request_id)
            add(row, result.rejected)
    if duplicates:
        found = lookup_doc_numbers(client, entity, [o.doc_number or "" for o in duplicates])
        for order in duplicates:
            docs = found.get(order.doc_number or "")
            if not docs:
                reason = (
                    f"QuickBooks reports DocNumber {order.doc_number} as a duplicate but the "
                    "look-up did not find it"
                )
                row = ledger_row(order, entity, "rejected", [reason], request_id=request_id)
                add(row, result.rejected)
                continue
            adoption = adopt_or_conflict(order, docs, entity)
            if adoption.doc is not None:
                row = result.adopt(order, entity, adoption, request_id=request_id)
                add(row, result.adopted)
            else:
                reason = adoption.conflict or "DocNumber conflict"
                row = ledger_row(order, entity, "rejected", [reason], request_id=request_id)
                add(row, result.rejected)
    return rows
