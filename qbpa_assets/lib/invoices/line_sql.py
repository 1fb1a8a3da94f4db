"""The SQL of invoice-line staging: raw invoices → one row per sales/discount line.

`lines_select` builds the one-pass select (each invoice parsed once, its lines unnested once, a
group line's sales lines in a second, lockstep unnest, the line number known from the positions,
no window function) for a set of columns: `STORED_COLUMNS` with `STORED_SHAPE` (only the JSON
keys those columns read) is what ``staging.invoice_lines_stored`` persists; every column with
`INVOICE_SHAPE` is what the view ``staging.invoice_lines`` computes on demand.
The columns are described in :mod:`qbpa_assets.lib.invoices.staging`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from qbpa_assets.lib.master_data.sales_reps import TXN_REP_HEADER_SHAPE, TXN_REP_SQL
from qbpa_assets.lib.warehouse.flatten import ADDR, META, REF, V, address, shape

# The invoice's numbers as JSON text: exactly what QuickBooks sent (``150.0`` stays ``150.0``),
# and never a raw tab or line break, so the .fil writer passes them through uncleaned.
N = "JSON"
_SALES_LINE = {
    "Id": V,
    "LineNum": "INTEGER",
    "Description": V,
    "Amount": N,
    "DetailType": V,
    "SalesItemLineDetail": {
        "ItemRef": REF,
        "ClassRef": REF,
        "UnitPrice": N,
        "Qty": N,
        "TaxCodeRef": REF,
        "ServiceDate": "DATE",
    },
}
_LINE = {
    **_SALES_LINE,
    "GroupLineDetail": {"GroupItemRef": REF, "Quantity": N, "Line": [_SALES_LINE]},
    "DiscountLineDetail": {
        "PercentBased": "BOOLEAN",
        "DiscountPercent": N,
        "DiscountAccountRef": REF,
    },
}

#: Every key the staged columns read (the view's parse).
INVOICE_SHAPE: dict[str, Any] = {
    "Id": V,
    "SyncToken": V,
    "DocNumber": V,
    "TxnDate": "DATE",
    "DueDate": "DATE",
    "ShipDate": "DATE",
    "TrackingNum": V,
    "ShipMethodRef": REF,
    "CustomerRef": REF,
    "SalesTermRef": REF,
    "DepartmentRef": REF,
    "CurrencyRef": REF,
    "ExchangeRate": N,
    "TotalAmt": N,
    "Balance": N,
    "TxnTaxDetail": {"TotalTax": N},
    "BillEmail": {"Address": V},
    "BillAddr": ADDR,
    "ShipAddr": ADDR,
    "CustomerMemo": {"value": V},
    "PrivateNote": V,
    "MetaData": META,
    "Line": [_LINE],
    **TXN_REP_HEADER_SHAPE,
}

_STORED_SALES_LINE = {
    "Id": V,
    "Description": V,
    "Amount": N,
    "DetailType": V,
    "SalesItemLineDetail": {
        "ItemRef": REF,
        "ClassRef": REF,  # the class rep source reads the lines' classes
        "UnitPrice": N,
        "Qty": N,
        "ServiceDate": "DATE",
    },
}
#: Only the keys `STORED_COLUMNS` read (the staging's parse).
STORED_SHAPE: dict[str, Any] = {
    "DocNumber": V,
    "TxnDate": "DATE",
    "DueDate": "DATE",
    "ShipDate": "DATE",
    "CustomerRef": REF,
    "SalesTermRef": REF,
    "TotalAmt": N,
    "Balance": N,
    "TxnTaxDetail": {"TotalTax": N},
    "PrivateNote": V,
    "Line": [
        {
            **_STORED_SALES_LINE,
            "GroupLineDetail": {"GroupItemRef": REF, "Line": [_STORED_SALES_LINE]},
            "DiscountLineDetail": {"DiscountPercent": N},
        }
    ],
    **TXN_REP_HEADER_SHAPE,
}

#: The columns ``staging.invoice_lines_stored`` persists: those the default invoice.fil layout
#: (its columns, window and order), the invoice check and the LINE_NO fill read.
STORED_COLUMNS = frozenset(
    {
        "invoice_id", "doc_number", "txn_date", "due_date", "ship_date", "customer_id",
        "customer_name", "sales_term_name", "rep_id", "total_amt_text", "balance_text",
        "total_tax_text", "discount_amount", "status", "invoice_last_updated", "line_type",
        "line_pos", "group_pos", "line_id", "description", "group_item_id", "item_id",
        "item_name", "qty_text", "unit_price_text", "amount_text", "discount_percent_text",
        "service_date", "line_no",
    }
)  # fmt: skip
#: What identifies a staged row: the view joins the computed columns to the stored ones on it.
ROW_KEY = ("invoice_id", "invoice_last_updated", "line_no")

LINE_TYPE = "ENUM('SalesItem', 'Discount')"
STATUS = "ENUM('Open', 'Overdue', 'Paid', 'Voided', 'Deleted')"


def _number(expr: str, name: str) -> list[tuple[str, str]]:
    return [(name, f"TRY_CAST({expr} AS DOUBLE)"), (f"{name}_text", expr)]


def _address(prefix: str, expr: str) -> list[tuple[str, str]]:
    # address() spells the columns "<expr>.<Key> AS <prefix>_<part>", one per line
    return [tuple(reversed(c.strip().split(" AS "))) for c in address(prefix, expr).split(",")]


def _discounts(detail: str) -> str:
    return (
        f"list_sum(list_transform(list_filter(v.Line, lambda x: x.DetailType = '{detail}'), "
        "lambda x: TRY_CAST(x.Amount AS DOUBLE)))"
    )


# $end_date is the calendar date of the window end (in the window's own time zone): an open
# invoice due before it is Overdue. QBO keeps a voided invoice with TotalAmt 0 and the memo
# "Voided"; deletion is only visible as a CDC tombstone (raw deleted = true).
_STATUS_SQL = f"""CAST(CASE
      WHEN deleted THEN 'Deleted'
      WHEN TRY_CAST(v.TotalAmt AS DOUBLE) = 0 AND lower(trim(v.PrivateNote)) = 'voided'
        THEN 'Voided'
      WHEN TRY_CAST(v.Balance AS DOUBLE) = 0 THEN 'Paid'
      WHEN v.DueDate < $end_date THEN 'Overdue'
      ELSE 'Open'
    END AS {STATUS})"""

# The header columns, over the parsed invoice ``v`` (in the table's column order).
_HEADER: list[tuple[str, str]] = [
    ("invoice_id", "CAST(id AS VARCHAR)"),
    ("invoice_sync_token", "v.SyncToken"),
    ("doc_number", "v.DocNumber"),
    ("txn_date", "v.TxnDate"),
    ("due_date", "v.DueDate"),
    ("ship_date", "v.ShipDate"),
    ("customer_id", "v.CustomerRef.value"),
    ("customer_name", "v.CustomerRef.name"),
    ("sales_term_id", "v.SalesTermRef.value"),
    ("sales_term_name", "v.SalesTermRef.name"),
    ("rep_id", TXN_REP_SQL),
    ("ship_method", "v.ShipMethodRef.name"),
    ("tracking_num", "v.TrackingNum"),
    ("department_id", "v.DepartmentRef.value"),
    ("currency", "v.CurrencyRef.value"),
    ("exchange_rate", "TRY_CAST(v.ExchangeRate AS DOUBLE)"),
    *_number("v.TotalAmt", "total_amt"),
    *_number("v.Balance", "balance"),
    *_number("v.TxnTaxDetail.TotalTax", "total_tax"),
    ("discount_amount", _discounts("DiscountLineDetail")),
    ("subtotal_amount", _discounts("SubTotalLineDetail")),
    ("status", _STATUS_SQL),
    ("bill_email", "v.BillEmail.Address"),
    *_address("bill", "v.BillAddr"),
    *_address("ship", "v.ShipAddr"),
    ("customer_memo", "v.CustomerMemo.value"),
    ("private_note", "v.PrivateNote"),
    ("invoice_created_at", "v.MetaData.CreateTime"),
    ("invoice_last_updated", "last_updated"),
]

# Per row, over ``sub`` (kind S/D/G, the top line ``l``, a group's sales line ``s.g``); the
# per-kind values the line columns read. (name, SQL, needed by the stored columns)
_ROW_PARTS: list[tuple[str, str, bool]] = [
    ("line_id", "CASE WHEN kind = 'G' THEN s.g.Id ELSE l.Id END", True),
    ("line_num", "CASE WHEN kind = 'G' THEN s.g.LineNum ELSE l.LineNum END", False),
    ("description", "CASE WHEN kind = 'G' THEN s.g.Description ELSE l.Description END", True),
    ("group_line_id", "CASE WHEN kind = 'G' THEN l.Id END", False),
    ("group_item_id", "CASE WHEN kind = 'G' THEN l.GroupLineDetail.GroupItemRef.value END", True),
    ("group_item_name", "CASE WHEN kind = 'G' THEN l.GroupLineDetail.GroupItemRef.name END", False),
    ("group_qty_text", "CASE WHEN kind = 'G' THEN l.GroupLineDetail.Quantity END", False),
    (
        "amount_text",
        "CASE kind WHEN 'G' THEN s.g.Amount WHEN 'S' THEN l.Amount WHEN 'D' THEN l.Amount END",
        True,
    ),
    (
        "d",
        "CASE kind WHEN 'G' THEN s.g.SalesItemLineDetail WHEN 'S' THEN l.SalesItemLineDetail END",
        True,
    ),
    ("dd", "CASE WHEN kind = 'D' THEN l.DiscountLineDetail END", True),
]

# The line columns, over ``rows`` (in the table's column order, after the header's).
_LINE_COLUMNS: list[tuple[str, str]] = [
    ("line_type", "line_type"),
    ("line_pos", "line_pos"),
    ("group_pos", "group_pos"),
    ("line_id", "line_id"),
    ("line_num", "line_num"),
    ("description", "description"),
    ("group_line_id", "group_line_id"),
    ("group_item_id", "group_item_id"),
    ("group_item_name", "group_item_name"),
    ("group_qty", "TRY_CAST(group_qty_text AS DOUBLE)"),
    ("group_qty_text", "group_qty_text"),
    ("item_id", "d.ItemRef.value"),
    ("item_name", "d.ItemRef.name"),
    *_number("d.Qty", "qty"),
    *_number("d.UnitPrice", "unit_price"),
    ("amount", "TRY_CAST(amount_text AS DOUBLE)"),
    ("amount_text", "amount_text"),
    ("service_date", "d.ServiceDate"),
    ("tax_code", "d.TaxCodeRef.value"),
    ("class_id", "d.ClassRef.value"),
    ("class_name", "d.ClassRef.name"),
    ("discount_percent_based", "dd.PercentBased"),
    *_number("dd.DiscountPercent", "discount_percent"),
    ("discount_account_id", "dd.DiscountAccountRef.value"),
    ("discount_account_name", "dd.DiscountAccountRef.name"),
    ("line_no", "line_no"),
]

#: Every column of ``staging.invoice_lines``, in its order.
ALL_COLUMNS = tuple(name for name, _ in _HEADER + _LINE_COLUMNS)


def _kind(x: str) -> str:
    """What a top-level line becomes: S(ales), D(iscount), G(roup) or NULL (no row)."""
    return (
        f"CASE WHEN {x}.DetailType = 'SalesItemLineDetail' OR ({x}.DetailType IS NULL AND "
        f"{x}.SalesItemLineDetail IS NOT NULL) THEN 'S' "
        f"WHEN {x}.DetailType = 'DiscountLineDetail' THEN 'D' "
        f"WHEN {x}.DetailType = 'GroupLineDetail' THEN 'G' END"
    )


def _group_sales(x: str) -> str:
    """A group line's sales lines (the ones that become rows), each with its place in the group."""
    return (
        f"list_filter(list_transform({x}.GroupLineDetail.Line, "
        "lambda g, j: {'g': g, 'j': CAST(j AS INTEGER)}), "
        "lambda s: s.g.SalesItemLineDetail IS NOT NULL)"
    )


def lines_select(columns: Collection[str], structure: dict[str, Any], where: str) -> str:
    """The staging select of ``columns`` (kept in the table's order).

    Args:
        columns: The output columns wanted (names of `ALL_COLUMNS`).
        structure: The ``json_transform`` shape: every key the columns read.
        where: The filter on the raw invoices ``r`` (e.g. the window, with ``$start``/``$end``).

    Returns:
        The SQL; it binds ``$end_date`` if ``status`` is wanted, the rep source's parameters if
        ``rep_id`` is, and whatever ``where`` binds.
    """
    wanted = set(columns)
    header = ",\n    ".join(f"{sql} AS {name}" for name, sql in _HEADER if name in wanted)
    wide = not wanted <= STORED_COLUMNS
    parts = ",\n    ".join(f"{sql} AS {name}" for name, sql, stored in _ROW_PARTS if stored or wide)
    final = ",\n  ".join(
        [name for name, _ in _HEADER if name in wanted]
        + [f"{sql} AS {name}" for name, sql in _LINE_COLUMNS if name in wanted]
    )
    return f"""
WITH inv AS (
  SELECT r.id, r.last_updated, coalesce(r.deleted, false) AS deleted,
         json_transform(r.payload, {shape(structure)}) AS v
  FROM quickbooks.invoices AS r
  WHERE {where}
),
hdr AS (
  SELECT
    {header},
    deleted,
    -- A deleted invoice is one row without line fields: one NULL line.
    CASE WHEN deleted THEN [NULL] ELSE v.Line END AS lines,
    -- How many rows each line yields; the running sum before a line is its LINE_NO offset.
    CASE WHEN deleted THEN [NULL] ELSE list_transform(v.Line, lambda x: CASE {_kind("x")}
      WHEN 'G' THEN len({_group_sales("x")}) WHEN 'S' THEN 1 WHEN 'D' THEN 1 ELSE 0 END)
    END AS yields
  FROM inv
),
top AS (
  -- unnest() beside generate_subscripts() in the select list walks both in lockstep; it is
  -- several times faster than a lateral "unnest(...) WITH ORDINALITY" join.
  SELECT hdr.* EXCLUDE (lines, yields), unnest(lines) AS l,
         CAST(generate_subscripts(lines, 1) AS INTEGER) AS pos,
         -- one row per line (the common invoice): the offset is the position before it
         unnest(CASE WHEN list_min(yields) = 1 AND list_max(yields) = 1
                     THEN range(0, len(yields))
                     ELSE list_transform(yields, lambda y, i:
                            coalesce(list_sum(list_slice(yields, 1, i - 1)), 0)) END) AS line_offset
  FROM hdr
),
kept AS (
  SELECT * FROM (SELECT top.*, {_kind("l")} AS kind FROM top)
  WHERE deleted OR kind IS NOT NULL
),
sub AS (
  -- a group line's sales lines, in lockstep with their place among its rows; any other line
  -- stays one row (one NULL element)
  SELECT kept.* EXCLUDE (gs), unnest(gs) AS s, CAST(generate_subscripts(gs, 1) AS INTEGER) AS k
  FROM (SELECT kept.*, CASE WHEN kind = 'G' THEN {_group_sales("l")} ELSE [NULL] END AS gs
        FROM kept) AS kept
),
rows AS (
  SELECT sub.* EXCLUDE (deleted, l, pos, line_offset, kind, s, k),
    CAST(CASE kind WHEN 'D' THEN 'Discount' WHEN 'S' THEN 'SalesItem' WHEN 'G' THEN 'SalesItem'
         END AS {LINE_TYPE}) AS line_type,
    CASE WHEN NOT deleted THEN pos END AS line_pos,
    s.j AS group_pos,
    CAST(CASE WHEN NOT deleted THEN line_offset + k END AS INTEGER) AS line_no,
    {parts}
  FROM sub
)
SELECT
  {final}
FROM rows
"""
