"""Orders → QuickBooks entity payloads, with the mapping's SQL expressions and QuickBooks' limits.

:func:`build_payloads` evaluates the mapping for many orders at once. :func:`map_orders` is what
the importer uses: it falls back to one order at a time when an expression fails on some row
(an overflow, a bad cast), so that the order is rejected naming the field instead of the run
failing; it writes the order's marker into ``PrivateNote`` (by code, whatever the mapping says),
and checks the QuickBooks field limits — rejecting where a value cannot be shortened safely,
shortening internal or descriptive text and saying so.

Hook for new fields: a new limit is one more entry in ``_TEXT_LIMITS`` (shortened) or a check in
``_limit_problems`` (rejected).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Number
from typing import Any

import duckdb

from qbpa_assets.lib.orders.mapping import OrderMapping
from qbpa_assets.lib.orders.tables import HEADER_FROM, LINE_FROM
from qbpa_assets.lib.orders.values import json_value
from qbpa_assets.lib.quickbooks.limits import (
    AMOUNT_DIGITS_BEFORE_POINT,
    CUSTOMER_MEMO_MAX,
    DOC_NUMBER_MAX,
    LINE_DESCRIPTION_MAX,
    PRIVATE_NOTE_MAX,
)

AMOUNT_LIMIT = 10**AMOUNT_DIGITS_BEFORE_POINT
MARKER_HASH_CHARS = 12
_MARKER_RE = re.compile(r"\[qbpa order (?P<order_id>[^\]]+) (?P<hash>[0-9a-f]{12})\]")
# Header text fields QuickBooks limits that are shortened, and said so (PrivateNote: see
# _with_marker, which keeps the marker whole).
_TEXT_LIMITS = {"CustomerMemo.value": CUSTOMER_MEMO_MAX}
_NUMERIC_LINE_FIELDS = ("Amount", "SalesItemLineDetail.Qty", "SalesItemLineDetail.UnitPrice")


def order_marker(order_id: str, order_hash: str) -> str:
    """The text qbpa writes into a document's PrivateNote to recognise it as this order's.

    It names the order id and the start of the hash of the order's content as it was sent, so
    a later run can adopt only its own documents and tell whether the order changed since.
    """
    return f"[qbpa order {order_id} {order_hash[:MARKER_HASH_CHARS]}]"


def read_marker(doc: dict) -> tuple[str, str] | None:
    """``(order_id, hash prefix)`` of the qbpa marker in a document's PrivateNote, if any."""
    match = _MARKER_RE.search(str(doc.get("PrivateNote") or ""))
    return (match["order_id"], match["hash"]) if match else None


@dataclass
class MappedOrders:
    """The result of :func:`map_orders`."""

    payloads: dict[str, dict] = field(default_factory=dict)
    rejects: dict[str, list[str]] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)


def _assign(target: dict, dotted: str, value: Any) -> None:
    if value is None:
        return
    parts = dotted.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = json_value(value)


def _get(target: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(target, dict):
            return None
        target = target.get(part)
    return target


def _set(target: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def build_payloads(
    con: duckdb.DuckDBPyConnection, mapping: OrderMapping, order_ids: Sequence[str]
) -> dict[str, dict]:
    """Map orders to QuickBooks entity payloads with the mapping's SQL expressions.

    Returns:
        order_id → payload (header fields plus ``Line``).

    Raises:
        duckdb.Error: An expression failed on some order (use :func:`map_orders` to find it).
    """
    if not order_ids:
        return {}
    payloads: dict[str, dict] = {}
    for order_id, header in _mapped(con, mapping.header, HEADER_FROM, "o", "", order_ids):
        header["Line"] = []
        payloads[order_id] = header
    line_order = " ORDER BY l.order_id, l.line_no"
    for order_id, line in _mapped(con, mapping.line, LINE_FROM, "l", line_order, order_ids):
        payloads[order_id]["Line"].append(line)
    return payloads


def _mapped(
    con: duckdb.DuckDBPyConnection,
    fields: dict[str, str],
    source: str,
    alias: str,
    order: str,
    order_ids: Sequence[str],
) -> list[tuple[str, dict]]:
    """``(order id, object)`` per row of ``source``: each field's expression at its dotted path."""
    keys = list(fields)
    exprs = ", ".join(f"(\n{fields[k]}\n)" for k in keys)
    rows = con.execute(
        f"SELECT {alias}.order_id, {exprs} FROM {source} "
        f"WHERE {alias}.order_id IN (SELECT unnest(?::VARCHAR[])){order}",
        [list(order_ids)],
    ).fetchall()
    out: list[tuple[str, dict]] = []
    for row in rows:
        obj: dict = {}
        for key, value in zip(keys, row[1:], strict=True):
            _assign(obj, key, value)
        out.append((row[0], obj))
    return out


def _failing_field(con: duckdb.DuckDBPyConnection, mapping: OrderMapping, order_id: str) -> str:
    """The reason one order's mapping fails: the first field whose expression errors on it."""
    for section, fields, from_, id_col in (
        ("header", mapping.header, HEADER_FROM, "o.order_id"),
        ("line", mapping.line, LINE_FROM, "l.order_id"),
    ):
        for key, expr in fields.items():
            try:
                con.execute(f"SELECT (\n{expr}\n) FROM {from_} WHERE {id_col} = ?", [order_id])
            except duckdb.Error as exc:
                detail = str(exc).strip().splitlines()[0][:200]
                return (
                    f"QuickBooks field {key} ([{section}] of the order mapping) cannot be "
                    f"computed for this order: {detail}"
                )
    return "the order mapping cannot be computed for this order"


def _limit_problems(order_id: str, payload: dict, mapped: MappedOrders) -> None:
    """Reject what QuickBooks would refuse; shorten harmless text and say so."""
    rejects: list[str] = []
    warnings: list[str] = []
    doc_number = payload.get("DocNumber")
    if doc_number is not None and len(str(doc_number)) > DOC_NUMBER_MAX:
        rejects.append(
            f"mapped DocNumber {str(doc_number)[:40]} is {len(str(doc_number))} characters; "
            f"QuickBooks allows at most {DOC_NUMBER_MAX}"
        )
    for dotted, limit in _TEXT_LIMITS.items():
        value = _get(payload, dotted)
        if isinstance(value, str) and len(value) > limit:
            _set(payload, dotted, value[:limit])
            warnings.append(f"{dotted} shortened from {len(value)} to {limit} characters")
    for index, line in enumerate(payload.get("Line") or [], start=1):
        number = line.get("LineNum", index)
        description = line.get("Description")
        if isinstance(description, str) and len(description) > LINE_DESCRIPTION_MAX:
            line["Description"] = description[:LINE_DESCRIPTION_MAX]
            warnings.append(
                f"line {number}: description shortened from {len(description)} to "
                f"{LINE_DESCRIPTION_MAX} characters"
            )
        for dotted in _NUMERIC_LINE_FIELDS:
            value = _get(line, dotted)
            if isinstance(value, Number) and abs(value) >= AMOUNT_LIMIT:  # type: ignore[arg-type]
                rejects.append(
                    f"line {number}: {dotted} {value} is more than QuickBooks can hold "
                    f"(less than {AMOUNT_LIMIT:,})".replace(",", " ")
                )
    if rejects:
        mapped.rejects[order_id] = rejects
    if warnings:
        mapped.warnings[order_id] = warnings


def _with_marker(payload: dict, marker: str, mapped: MappedOrders, order_id: str) -> None:
    """Put the marker first in PrivateNote, so no shortening can cut it off."""
    note = payload.get("PrivateNote")
    note = "" if note is None else str(note)
    if marker not in note:
        note = f"{marker} {note}".rstrip()
    if len(note) > PRIVATE_NOTE_MAX:
        mapped.warnings.setdefault(order_id, []).append(
            f"PrivateNote shortened from {len(note)} to {PRIVATE_NOTE_MAX} characters"
        )
        note = note[:PRIVATE_NOTE_MAX]
    payload["PrivateNote"] = note


def map_orders(
    con: duckdb.DuckDBPyConnection, mapping: OrderMapping, hashes: dict[str, str]
) -> MappedOrders:
    """Payloads for the orders, each order's problems apart from the others'.

    Args:
        con: DuckDB with the staged orders.
        mapping: The order mapping (already validated).
        hashes: order_id → content hash (for the marker), for the orders to map.

    Returns:
        MappedOrders: payloads of the orders that can be sent (with warnings of what was
        shortened), and the rejects with their reasons.
    """
    mapped = MappedOrders()
    ids = list(hashes)
    try:
        payloads = build_payloads(con, mapping, ids)
    except duckdb.Error:
        payloads = {}
        for order_id in ids:
            try:
                payloads.update(build_payloads(con, mapping, [order_id]))
            except duckdb.Error:
                mapped.rejects[order_id] = [_failing_field(con, mapping, order_id)]
    for order_id, payload in payloads.items():
        _limit_problems(order_id, payload, mapped)
        if order_id in mapped.rejects:
            continue
        _with_marker(payload, order_marker(order_id, hashes[order_id]), mapped, order_id)
        mapped.payloads[order_id] = payload
    return mapped
