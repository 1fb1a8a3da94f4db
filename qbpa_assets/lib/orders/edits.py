"""Edits and cancellations made in PocketAdvantage after an order reached QuickBooks.

For the orders of a window already in the ledger as created/adopted:

- **edited** (the order's content changed): when the document is still open
  (an Estimate that is Pending and not linked to an Invoice) it is re-validated like a new order
  and updated: a sparse update with the current ``SyncToken``, the header fields of the mapping
  and all lines replaced. An edit of an invoiced or closed document (or of an Invoice or
  SalesReceipt target) is not applied: it is recorded as refused, and the status says why.
- **cancelled** (``[status] cancelled_sql`` names it, or it vanished from the Inventiv database):
  the open document is closed or rejected (an Estimate) or voided (an Invoice or SalesReceipt),
  or only reported (``on_cancel = "report"``).

Exactly once, like creates: updates go through the batch endpoint with a deterministic
``requestid`` (a lost answer is replayed by QuickBooks, not applied twice); before sending, the
document read from QuickBooks is compared with the edit, so an edit a crashed run already
applied (QuickBooks has it, the ledger does not) is adopted instead of sent again; a stale
``SyncToken`` (Fault 5010: someone saved the document meanwhile) is read again and retried once.
What was done is kept in ``quickbooks.sales_order_changes`` (one row per order, the latest
action), and the ledger's content hash moves only after QuickBooks accepted the edit.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

from qbpa_assets.lib.master_data.rep_source import RepSource
from qbpa_assets.lib.orders import followup, reps
from qbpa_assets.lib.orders.batches import item_batch_id
from qbpa_assets.lib.orders.changes import (
    Candidate,
    Change,
    ensure_table,
    find_candidates,
    forget,
    record,
)
from qbpa_assets.lib.orders.ledger import ensure_ledger
from qbpa_assets.lib.orders.mapping import resolve_mapping
from qbpa_assets.lib.orders.payloads import map_orders
from qbpa_assets.lib.orders.status_sql import StatusTarget
from qbpa_assets.lib.orders.validate import validate_orders
from qbpa_assets.lib.orders.window import order_sort_key

log = logging.getLogger(__name__)

BATCH_SIZE = 30
STALE = "5010"

_CANCEL_STATUS = {"close": "Closed", "reject": "Rejected"}


@dataclass
class EditResult:
    """What :func:`apply_changes` did for one window."""

    changes: list[Change] = field(default_factory=list)
    adopted: int = 0  # edits a crashed run had already applied
    stale_retries: int = 0
    batches: int = 0
    api_calls: int = 0

    def by_action(self, action: str) -> list[Change]:
        """The changes of one action."""
        return [c for c in self.changes if c.action == action]

    def counts(self) -> dict[str, int]:
        """Counts per action (for metadata and logs)."""
        out: dict[str, int] = {}
        for change in self.changes:
            out[change.action] = out.get(change.action, 0) + 1
        out.update(adopted=self.adopted, stale_retries=self.stale_retries, batches=self.batches)
        return out


def _same(want: Any, have: Any) -> bool:
    """Whether the document already holds a mapped value (numbers compared as numbers)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(_same(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        if not isinstance(have, list):
            return False
        have = [x for x in have if x.get("DetailType") != "SubTotalLineDetail"]
        return len(want) == len(have) and all(
            _same({k: v for k, v in w.items() if k not in ("LineNum", "Id")}, h)
            for w, h in zip(want, have, strict=True)
        )
    if isinstance(want, bool) or isinstance(have, bool):
        return want == have
    if isinstance(want, int | float) and isinstance(have, int | float | str):
        try:
            return abs(float(want) - float(have)) < 0.005
        except ValueError:
            return False
    return str(want) == str(have)


def already_applied(doc: dict[str, Any], payload: dict[str, Any]) -> bool:
    """True when every mapped field and line of ``payload`` is what the document holds."""
    return _same(payload, doc)


def is_open(entity: str, doc: dict[str, Any]) -> bool:
    """An Estimate still Pending and not linked to an Invoice (only those are changed)."""
    return (
        entity == "Estimate"
        and str(doc.get("TxnStatus") or "Pending") == "Pending"
        and followup.linked_invoice_id(doc) is None
    )


def _why_closed(entity: str, doc: dict[str, Any] | None) -> str:
    if doc is None:
        return f"the {entity} no longer exists in QuickBooks"
    invoice = followup.linked_invoice_id(doc)
    if invoice is not None:
        return f"{entity} {doc.get('Id')} is already invoiced (Invoice {invoice})"
    if entity != "Estimate":
        return f"an {entity} is not changed once it is created"
    return f"{entity} {doc.get('Id')} is already {doc.get('TxnStatus')} in QuickBooks"


def request_id(realm_id: str, entity: str, items: Sequence[Candidate], attempt: int) -> str:
    """Deterministic batch ``requestid`` (36 chars) for edits/cancellations."""
    h = hashlib.sha256(f"{realm_id}\n{entity}\nchange".encode())
    for c in sorted(items, key=lambda c: order_sort_key(c.order_id)):
        h.update(f"\n{c.order_id}\t{c.kind}\t{c.order_hash}\t{c.modified_at}".encode())
    return f"qbpe-{h.hexdigest()[:30]}{attempt}"


def _fault(response: dict[str, Any]) -> tuple[str, str]:
    errors = (response.get("Fault") or {}).get("Error") or [{}]
    err = errors[0] if isinstance(errors, list) else errors
    message = str(err.get("Message", "")).strip()
    detail = str(err.get("Detail", "")).strip()
    return str(err.get("code", "")), detail or message or "no detail"


def _item(entity: str, c: Candidate, target: StatusTarget) -> dict[str, Any]:
    doc = c.doc or {}
    bid = item_batch_id(c.order_id)
    base = {"Id": doc.get("Id"), "SyncToken": doc.get("SyncToken")}
    if c.kind == "cancel" and entity != "Estimate":
        return {"bId": bid, "operation": "void", entity: base}
    if c.kind == "cancel":
        body = {**base, "sparse": True, "TxnStatus": _CANCEL_STATUS[target.on_cancel]}
    else:
        body = {**(c.payload or {}), **base, "sparse": True}
    return {"bId": bid, "operation": "update", entity: body}


def _settled(entity: str, c: Candidate, target: StatusTarget) -> bool:
    """The document already shows this change (an earlier run applied it and then died)."""
    doc = c.doc or {}
    if c.kind == "edit":
        return c.payload is not None and already_applied(doc, c.payload)
    if entity != "Estimate":
        return followup.is_voided(doc)
    return (
        doc.get("TxnStatus") == _CANCEL_STATUS.get(target.on_cancel)
        and followup.linked_invoice_id(doc) is None
    )


def apply_changes(
    con: duckdb.DuckDBPyConnection,
    client: Any,
    start: date,
    end: date,
    target: StatusTarget,
    *,
    entity: str = "Estimate",
    mapping: Any = None,
    cancelled: set[str] | None = None,
    logger: Any = None,
    after_batch: Any = None,
    rep_source: RepSource | None = None,
) -> EditResult:
    """Apply the window's edits and cancellations to QuickBooks, exactly once.

    Args:
        con: DuckDB after :func:`orders.copy_orders` and :func:`orders.import_orders` ran for
            the window (``inventiv_db.orders``, the ledger, the staged master data).
        client: A ``QboClient``.
        start: First day of the window (inclusive).
        end: Last day (exclusive).
        target: The ``[status]`` policy (``apply_edits``, ``on_cancel``, vanished orders).
        entity: The sales-order entity.
        mapping: The OrderMapping (payloads are built like a new order's).
        cancelled: Order ids the Inventiv database marks cancelled (:func:`cancelled_order_ids`).
        logger: Where to report; module logger if None.
        after_batch: ``after_batch(index, responses)`` right after QuickBooks answered a batch
            and before anything is recorded (crash tests).
        rep_source: Where sales reps come from: an edited order's ``REP_ID`` is re-validated
            and written like a new order's (:mod:`.reps`); None leaves reps alone.

    Returns:
        EditResult.
    """
    logger = logger or log
    ensure_table(con)
    ensure_ledger(con)
    followup.ensure_table(con)
    mapping = resolve_mapping(mapping)
    result = EditResult()
    calls = int((getattr(client, "stats", {}) or {}).get("requests", 0))
    candidates = find_candidates(con, start, end, cancelled or set(), target.vanished_is_cancelled)
    if not candidates:
        return result
    forget(con, [c.order_id for c in candidates if c.kind == "reopen"])
    for c in candidates:
        if c.kind == "withdraw":
            result.changes.append(
                Change(
                    c.order_id,
                    "cancelled",
                    "cancelled in PocketAdvantage before it reached QuickBooks",
                    None,
                    c.order_hash,
                    c.modified_at,
                )
            )
    candidates = [c for c in candidates if c.kind in ("edit", "cancel")]
    edits = [c for c in candidates if c.kind == "edit"]
    if edits and not target.apply_edits:
        for c in edits:
            result.changes.append(
                Change(
                    c.order_id,
                    "refused",
                    "edited in PocketAdvantage; edits are not "
                    "applied ([status] apply_edits = false)",
                    c.qbo_id,
                    c.order_hash,
                    c.modified_at,
                )
            )
        candidates = [c for c in candidates if c.kind != "edit"]
    reasons = validate_orders(con, start, end, rep_source) if edits else {}
    mapped = map_orders(con, mapping, {c.order_id: c.order_hash or "" for c in edits})
    if edits and rep_source is not None and rep_source.kind != "employee":
        # The import already said why Employees are not written; say nothing twice.
        prefs = client.preferences() if rep_source.kind == "custom_field" else {}
        reps.write_reps(con, reps.rep_writer(rep_source, prefs, logger), mapped.payloads)
    for order_id, problems in mapped.rejects.items():
        reasons.setdefault(order_id, []).extend(problems)
    payloads = mapped.payloads
    docs = followup.read_documents(client, entity, [c.qbo_id for c in candidates])
    followup.store_documents(con, entity, list(docs.values()))
    for c in candidates:
        c.doc, c.payload = docs.get(c.qbo_id), payloads.get(c.order_id)
    to_send = _triage(entity, candidates, target, reasons, result)
    index = 0
    for attempt in (0, 1):
        stale: list[Candidate] = []
        for chunk_start in range(0, len(to_send), BATCH_SIZE):
            chunk = to_send[chunk_start : chunk_start + BATCH_SIZE]
            rid = request_id(client.settings.realm_id, entity, chunk, attempt)
            by_bid = {item_batch_id(c.order_id): c for c in chunk}
            responses = client.batch([_item(entity, c, target) for c in chunk], rid)
            result.batches += 1
            if after_batch is not None:
                after_batch(index, responses)
            index += 1
            answered = {str(r.get("bId")): r for r in responses}
            for bid, c in by_bid.items():
                response = answered.get(bid) or {}
                doc = response.get(entity)
                if isinstance(doc, dict) and doc.get("Id") is not None:
                    c.doc = doc
                    result.changes.append(_done(entity, c, target, rid))
                    continue
                code, text = _fault(response) if response else ("", "no response")
                if code == STALE and attempt == 0:
                    stale.append(c)
                    continue
                result.changes.append(
                    Change(
                        c.order_id,
                        "failed",
                        f"QuickBooks refused the change ({code}): {text}",
                        c.qbo_id,
                        c.order_hash,
                        c.modified_at,
                        request_id=rid,
                    )
                )
        if not stale:
            break
        # Someone saved the document meanwhile: read it again and decide once more.
        result.stale_retries += len(stale)
        fresh = followup.read_documents(client, entity, [c.qbo_id for c in stale])
        for c in stale:
            c.doc = fresh.get(c.qbo_id)
        to_send = _triage(entity, stale, target, reasons, result)
    record(con, entity, result.changes)
    followup.store_documents(
        con, entity, [c.doc for c in candidates if c.doc is not None and c.doc.get("Id")]
    )
    result.api_calls = int((getattr(client, "stats", {}) or {}).get("requests", 0)) - calls
    if result.changes:
        logger.info(f"order edits/cancellations [{start}, {end}): {result.counts()}")
    for change in result.changes:
        if change.action not in ("updated", "cancelled"):
            logger.warning(f"order {change.order_id}: {change.action}: {change.message}")
    return result


def _triage(
    entity: str,
    candidates: list[Candidate],
    target: StatusTarget,
    reasons: dict[str, list[str]],
    result: EditResult,
) -> list[Candidate]:
    """Record the Change of each candidate nothing is to be sent for; return the others."""
    to_send: list[Candidate] = []
    for c in candidates:
        change = _decide(entity, c, target, reasons.get(c.order_id), result)
        if change is None:
            to_send.append(c)
        else:
            result.changes.append(change)
    return to_send


def _decide(
    entity: str, c: Candidate, target: StatusTarget, reasons: list[str] | None, result: EditResult
) -> Change | None:
    """A Change when nothing is to be sent for this candidate, None when it must be sent."""
    if c.kind == "cancel":
        if target.on_cancel == "report":
            return Change(
                c.order_id,
                "cancel_reported",
                "cancelled in PocketAdvantage; the QuickBooks "
                "document is left as it is ([status] on_cancel = report)",
                c.qbo_id,
                c.order_hash,
                c.modified_at,
            )
        if c.doc is not None and _settled(entity, c, target):
            result.adopted += 1
            return _done(entity, c, target, None)
        if c.doc is None or not (is_open(entity, c.doc) or entity != "Estimate"):
            return Change(
                c.order_id,
                "cancel_refused",
                f"cancelled in PocketAdvantage but not in QuickBooks: {_why_closed(entity, c.doc)}",
                c.qbo_id,
                c.order_hash,
                c.modified_at,
            )
        return None
    if c.doc is not None and c.payload is not None and _settled(entity, c, target):
        result.adopted += 1
        return _done(entity, c, target, None)
    if c.doc is None or not is_open(entity, c.doc):
        return Change(
            c.order_id,
            "refused",
            f"edited in PocketAdvantage; not applied: {_why_closed(entity, c.doc)}",
            c.qbo_id,
            c.order_hash,
            c.modified_at,
        )
    if reasons:
        return Change(
            c.order_id,
            "invalid",
            "edited in PocketAdvantage; not applied: " + "; ".join(reasons),
            c.qbo_id,
            c.order_hash,
            c.modified_at,
        )
    return None


def _done(entity: str, c: Candidate, target: StatusTarget, rid: str | None) -> Change:
    doc = c.doc or {}
    if c.kind == "cancel":
        how = "voided" if entity != "Estimate" else _CANCEL_STATUS[target.on_cancel].lower()
        message = f"cancelled in PocketAdvantage; {entity} {doc.get('Id')} {how} in QuickBooks"
        action = "cancelled"
    else:
        message = f"edit of {c.modified_at} applied to {entity} {doc.get('Id')}"
        action = "updated"
    return Change(
        c.order_id,
        action,
        message,
        str(doc.get("Id")),
        c.order_hash,
        c.modified_at,
        None if doc.get("SyncToken") is None else str(doc["SyncToken"]),
        rid,
    )
