"""The import engine: one window's valid orders created in QuickBooks exactly once.

Steps, each in its own module: validate (:mod:`.validate`), map to payloads and check
QuickBooks' limits (:mod:`.payloads`), refuse order numbers used twice (here, with the ledger),
look DocNumbers up and adopt only this order's own documents (:mod:`.lookup`), send in batches
with deterministic request ids (:mod:`.batches`), and write the ledger (:mod:`.ledger`) after
each step, so that a run dying anywhere leaves nothing to duplicate and nothing lost.

Hooks: a new per-order check goes into :mod:`.validate` (SQL) or :func:`.payloads.map_orders`
(payload-level); work after the ledger is written (status back to Inventiv) reads
:class:`~.results.ImportResult` or the ledger, and needs no change here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from qbpa_assets.lib.master_data.rep_source import RepSource
from qbpa_assets.lib.orders import reps
from qbpa_assets.lib.orders.batches import batch_request_id, batch_rows, item_batch_id
from qbpa_assets.lib.orders.ledger import (
    DONE,
    LedgerRow,
    doc_number_owners,
    ensure_ledger,
    read_ledger,
    write_ledger,
)
from qbpa_assets.lib.orders.lookup import adopt_or_conflict, lookup_doc_numbers
from qbpa_assets.lib.orders.mapping import (
    ENTITIES,
    OrderMapping,
    resolve_mapping,
    validate_mapping,
)
from qbpa_assets.lib.orders.payloads import map_orders
from qbpa_assets.lib.orders.results import ChangedOrder, ImportResult, ledger_row
from qbpa_assets.lib.orders.tables import ensure_tables
from qbpa_assets.lib.orders.validate import validate_orders
from qbpa_assets.lib.orders.window import (
    WindowOrder,
    order_sort_key,
    same_content,
    window_orders,
)
from qbpa_assets.lib.quickbooks.limits import BATCH_MAX_OPERATIONS

log = logging.getLogger(__name__)

BATCH_SIZE = BATCH_MAX_OPERATIONS


def _client_calls(client: Any) -> int:
    stats = dict(getattr(client, "stats", {}) or {})
    if "requests" in stats:
        return int(stats["requests"])
    return int(sum(v for k, v in stats.items() if k in ("query", "batch", "create", "read")))


def _changed(order: WindowOrder, done: LedgerRow) -> ChangedOrder | None:
    """How an order already in QuickBooks differs from the order as it is now, if it does."""
    content_changed = not same_content(done.order_hash, order.order_hash)
    moved = (
        order.modified_at is not None
        and done.source_modified_at is not None
        and order.modified_at > done.source_modified_at
    )
    if not (content_changed or moved):
        return None
    return ChangedOrder(
        order.order_id,
        order.order_no,
        done.doc_number,
        done.qbo_entity,
        done.qbo_id,
        done.source_modified_at,
        order.modified_at,
        content_changed,
    )


def _number_reason(order: WindowOrder, other: str) -> str:
    if order.doc_number == order.order_no:
        return f"order number {order.order_no} is already used by order {other}"
    return (
        f"order number {order.order_no} (DocNumber {order.doc_number}) is already used by "
        f"order {other}"
    )


def _unique_numbers(
    con: duckdb.DuckDBPyConnection, orders: list[WindowOrder], entity: str, result: ImportResult
) -> list[WindowOrder]:
    """Refuse an order whose DocNumber another order has (in QuickBooks already, or first here).

    Two PocketAdvantage orders with one number would otherwise meet at one QuickBooks document:
    the one already created keeps it, else the first by order id; the other is rejected.
    """
    owners = doc_number_owners(con, [o.doc_number for o in orders if o.doc_number])
    claimed: dict[str, str] = {}
    kept: list[WindowOrder] = []
    rows: list[LedgerRow] = []
    for order in orders:
        number = order.doc_number
        other = owners.get(number or "") or claimed.get(number or "")
        if number and other and other != order.order_id:
            row = ledger_row(order, entity, "rejected", [_number_reason(order, other)])
            result.rejected.append(row)
            rows.append(row)
            continue
        if number:
            claimed[number] = order.order_id
        kept.append(order)
    write_ledger(con, rows)
    return kept


def import_orders(
    con: duckdb.DuckDBPyConnection,
    client: Any,
    start: date,
    end: date,
    *,
    entity: str = "Estimate",
    mapping: OrderMapping | Path | str | None = None,
    logger: Any = None,
    after_batch: Callable[[int, list[dict]], None] | None = None,
    rep_source: RepSource | None = None,
) -> ImportResult:
    """Create the window's valid orders in QuickBooks, exactly once, and keep the ledger.

    Args:
        con: DuckDB with ``inventiv_db.orders``/``order_lines`` (from
            :func:`~qbpa_assets.lib.orders.copy.copy_orders`), ``staging.customers`` and
            ``staging.items``.
        client: A ``QboClient`` (``query``, ``batch``, ``stats``, ``settings.realm_id``).
        start: First day of the window (inclusive).
        end: Last day (exclusive).
        entity: ``Estimate`` (default), ``Invoice`` or ``SalesReceipt``.
        mapping: An OrderMapping, a mapping file path, or None for the packaged default.
        logger: Logger to report progress to (e.g. ``context.log``); module logger if None.
        after_batch: Called as ``after_batch(batch_index, responses)`` right after QuickBooks
            accepted a batch and before its ledger rows are written (crash tests).
        rep_source: Where sales reps come from (``QBPA_SALES_REP_SOURCE``): the orders'
            ``REP_ID`` is validated against ``staging.sales_reps`` and written into the
            documents the source's way (:mod:`.reps`); None leaves reps alone.

    Returns:
        ImportResult.

    Raises:
        OrderMappingError: The mapping is invalid (raised before any request).
        RepConfigError: The rep source's custom field is not defined by the company.
        ValueError: Unknown entity.
    """
    logger = logger or log
    if entity not in ENTITIES:
        raise ValueError(f"sales order entity {entity!r} is not one of {', '.join(ENTITIES)}")
    mapping = resolve_mapping(mapping)
    ensure_tables(con)
    ensure_ledger(con)
    validate_mapping(con, mapping)
    calls_before = _client_calls(client)
    realm_id = str(getattr(getattr(client, "settings", None), "realm_id", "") or "")
    writer = reps.prepare(con, client, rep_source, logger) if rep_source is not None else None
    result = ImportResult()

    orders = window_orders(con, start, end)
    ledger = read_ledger(con, orders)
    reasons = validate_orders(con, start, end, rep_source)

    pending: list[WindowOrder] = []
    rejected_rows: list[LedgerRow] = []
    for order_id in sorted(orders, key=order_sort_key):
        order = orders[order_id]
        done = ledger.get(order_id)
        if done is not None and done.status in DONE:
            change = _changed(order, done)
            if change is not None:
                result.changed_after_create.append(change)
            else:
                result.unchanged_skipped += 1
            continue
        if order_id in reasons:
            rejected_rows.append(ledger_row(order, entity, "rejected", reasons[order_id]))
        else:
            pending.append(order)

    mapped = map_orders(con, mapping, {o.order_id: o.order_hash for o in pending})
    if writer is not None:
        reps.write_reps(con, writer, mapped.payloads)
    checked: list[WindowOrder] = []
    for order in pending:
        if order.order_id in mapped.rejects:
            row = ledger_row(order, entity, "rejected", mapped.rejects[order.order_id])
            rejected_rows.append(row)
            continue
        payload = mapped.payloads[order.order_id]
        doc_number = payload.get("DocNumber")
        order.doc_number = None if doc_number is None else str(doc_number)
        # Messages compare the customer QuickBooks got, which the mapping may derive.
        order.customer_id = str((payload.get("CustomerRef") or {}).get("value", order.customer_id))
        checked.append(order)
    # Rejects are written first: they stay visible even if the run dies while sending.
    write_ledger(con, rejected_rows)
    result.rejected.extend(rejected_rows)
    checked = _unique_numbers(con, checked, entity, result)

    # An earlier run may have been accepted by QuickBooks and died before its ledger write:
    # find its documents by DocNumber and adopt those that carry this order's marker. (Without
    # a mapped DocNumber QuickBooks numbers documents itself; then only the requestid guards.)
    existing = lookup_doc_numbers(client, entity, [o.doc_number for o in checked if o.doc_number])
    to_create: list[WindowOrder] = []
    lookup_rows: list[LedgerRow] = []
    for order in checked:
        docs = existing.get(order.doc_number or "")
        if not docs:
            to_create.append(order)
            continue
        adoption = adopt_or_conflict(order, docs, entity)
        if adoption.doc is not None:
            row = result.adopt(order, entity, adoption)
            row.warnings = mapped.warnings.get(order.order_id, [])
            result.adopted.append(row)
        else:
            row = ledger_row(order, entity, "rejected", [adoption.conflict or "DocNumber conflict"])
            result.rejected.append(row)
        lookup_rows.append(row)
    write_ledger(con, lookup_rows)
    if result.adopted:
        logger.info("adopted %d order(s) an earlier run created", len(result.adopted))

    for index, chunk_start in enumerate(range(0, len(to_create), BATCH_SIZE)):
        chunk = to_create[chunk_start : chunk_start + BATCH_SIZE]
        request_id = batch_request_id(realm_id, entity, [(o.order_id, o.order_hash) for o in chunk])
        by_bid = {item_batch_id(o.order_id): o for o in chunk}
        items = [
            {"bId": bid, "operation": "create", entity: mapped.payloads[o.order_id]}
            for bid, o in by_bid.items()
        ]
        responses = client.batch(items, request_id)
        result.batches += 1
        if after_batch is not None:
            after_batch(index, responses)
        rows = batch_rows(client, entity, by_bid, responses, request_id, result, mapped.warnings)
        write_ledger(con, rows)
        logger.info(
            "batch %d: %d order(s) sent as %s (requestid %s)",
            index + 1,
            len(chunk),
            entity,
            request_id,
        )

    for change in result.changed_after_create:
        logger.warning(
            "order %s (%s) changed in Inventiv after %s %s was created: not re-sent",
            change.order_id,
            change.order_no,
            change.qbo_entity,
            change.qbo_id,
        )
    result.api_calls = _client_calls(client) - calls_before
    logger.info("order import [%s, %s): %s", start, end, result.counts())
    return result
