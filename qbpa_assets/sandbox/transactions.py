"""Sales transactions (Invoice, Estimate, SalesReceipt): what QBO checks and computes on a write.

Checked: ``CustomerRef`` and every ``ItemRef`` exist and are active (610), ``Line`` is present
(2020), line detail types are known (2010), ``DocNumber`` ≤ 21 characters (2050) and unique per
entity while custom transaction numbers are on (6140, unless ``include=allowduplicatedocnum``),
discount lines carry an amount or percent (6090), ``ClassRef`` (header or line) names an
active Class (610), ``CustomField`` entries name defined fields (``custom_fields.py``).

Computed: line ``Amount`` from ``Qty`` × ``UnitPrice`` (prices from the item when missing),
line Ids and numbers, the sub-total line, ``TotalAmt``, ``Balance``, ``DueDate`` from the
terms, addresses from the customer, and an Estimate's ``TxnStatus`` (Pending; see
``estimates.py`` for the statuses and the links to Invoices).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from qbpa_assets.lib.quickbooks.limits import DOC_NUMBER_MAX
from qbpa_assets.sandbox import custom_fields
from qbpa_assets.sandbox.company import COMPANY_TZ, SALES_ACCOUNT, TAX_NON, USD
from qbpa_assets.sandbox.estimates import checked_status
from qbpa_assets.sandbox.faults import (
    DISCOUNT_INCOMPLETE,
    DUPLICATE_DOC_NUMBER,
    Fault,
    invalid_property,
    required,
    string_length,
)
from qbpa_assets.sandbox.wire import JSON

LINE_KEY_ORDER = ("Id", "LineNum", "Description", "Amount", "DetailType")


def _num(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


class TransactionRules:
    """Validation and server-computed fields of sales transactions."""

    def _prepare_txn(self, entity: str, obj: JSON, current: JSON | None, include: str) -> JSON:
        if not obj.get("CustomerRef"):
            raise required("CustomerRef")
        if not obj.get("Line"):
            raise required("Line")
        customer = self._ref("Customer", obj["CustomerRef"], "CustomerRef", "Customer")
        obj["CustomerRef"] = {"value": customer["Id"], "name": customer["DisplayName"]}
        if "CustomField" in obj:
            defined = custom_fields.definitions(self._tables["Preferences"]["1"])
            obj["CustomField"] = custom_fields.checked(obj["CustomField"], defined)
        if obj.get("ClassRef"):
            obj["ClassRef"] = self._class_ref(obj["ClassRef"], "ClassRef")
        prefs = self._tables["Preferences"]["1"].get("SalesFormsPrefs", {})
        doc = obj.get("DocNumber")
        if doc is not None:
            doc = str(doc)
            if len(doc) > DOC_NUMBER_MAX:
                raise string_length("DocNumber", 0, DOC_NUMBER_MAX, len(doc), long_form=True)
            owner = self._doc_numbers[entity].get(doc)
            duplicate_ok = "allowduplicatedocnum" in include.lower()
            if (
                prefs.get("CustomTxnNumbers", True)
                and owner is not None
                and (current is None or owner != current["Id"])
                and not duplicate_ok
            ):
                raise Fault.of(
                    DUPLICATE_DOC_NUMBER,
                    "Duplicate Document Number Error : You must specify a different number. "
                    f"This number has already been used. DocNumber={doc} is assigned to "
                    f"TxnType={entity} with TxnId={owner}",
                )
        elif not prefs.get("CustomTxnNumbers", True) or current is None:
            if not prefs.get("CustomTxnNumbers", True):
                doc = str(1000 + self._next_id.get("txn", 1))
                while doc in self._doc_numbers[entity]:
                    doc = str(int(doc) + 1)
        if doc is not None:
            obj["DocNumber"] = doc
        subtotal, discount = self._compute_lines(obj["Line"])
        total = round(subtotal - discount, 2)
        today = self.now.astimezone(COMPANY_TZ).date()
        obj.setdefault("TxnDate", today.isoformat())
        obj.setdefault("CurrencyRef", USD)
        obj.setdefault("LinkedTxn", [])
        obj["TxnTaxDetail"] = {"TotalTax": 0.0}
        obj["TotalAmt"] = total
        obj.setdefault("BillAddr", customer.get("BillAddr"))
        obj.setdefault("ShipAddr", customer.get("ShipAddr"))
        obj.setdefault("PrintStatus", "NotSet")
        obj.setdefault("EmailStatus", "NotSet")
        obj.setdefault("ApplyTaxAfterDiscount", False)
        if entity == "Invoice":
            self._check_estimate_links(obj)
            term_id = (obj.get("SalesTermRef") or customer.get("SalesTermRef") or {}).get(
                "value", "3"
            )
            term = self._tables["Term"].get(str(term_id), {"DueDays": 30})
            if "DueDate" not in obj:
                try:
                    txn_date = dt.date.fromisoformat(str(obj["TxnDate"]))
                except ValueError as exc:
                    raise invalid_property("Bad TxnDate", "TxnDate") from exc
                obj["DueDate"] = (txn_date + dt.timedelta(days=term.get("DueDays", 30))).isoformat()
            paid = sum(_num(x.get("Amount")) or 0.0 for x in obj.get("LinkedTxn", []))
            obj["Balance"] = round(max(0.0, total - paid), 2) if paid else total
            obj.setdefault("Deposit", 0)
        elif entity == "SalesReceipt":
            obj["Balance"] = 0.0
            obj.setdefault("DepositToAccountRef", {"value": "4", "name": "Undeposited Funds"})
        else:
            obj["TxnStatus"] = checked_status(obj.get("TxnStatus") or "Pending")
            obj.pop("Balance", None)
        return obj

    def _class_ref(self, ref: Any, element: str) -> JSON:
        """A ``ClassRef`` checked (exists, active: else 610) and named as QBO names it."""
        cls = self._ref("Class", ref, element, "Class")
        return {"value": cls["Id"], "name": cls.get("FullyQualifiedName") or cls.get("Name", "")}

    def _compute_lines(self, lines: Any, nested: bool = False) -> tuple[float, float]:
        """Validate lines and fill server-computed fields; return (subtotal, discount)."""
        if not isinstance(lines, list):
            raise required("Line")
        subtotal = 0.0
        discounts: list[JSON] = []
        kept: list[JSON] = []
        next_id = 1 + max(
            (int(x["Id"]) for x in lines if str(x.get("Id", "")).isdigit()), default=0
        )
        for line in lines:
            if not isinstance(line, dict):
                raise required("Line.DetailType")
            kind = line.get("DetailType")
            if not kind:
                raise required("Line.DetailType")
            if kind == "SubTotalLineDetail":
                continue  # recomputed below
            if kind == "SalesItemLineDetail":
                detail = line.get("SalesItemLineDetail") or {}
                line["SalesItemLineDetail"] = detail
                if detail.get("ItemRef"):
                    item = self._ref(
                        "Item", detail["ItemRef"], "Line.SalesItemLineDetail.ItemRef", "Item"
                    )
                else:
                    item = {"Id": "1", "Name": "Services", "UnitPrice": None}
                detail["ItemRef"] = {"value": item["Id"], "name": item.get("Name", "")}
                if detail.get("ClassRef"):
                    detail["ClassRef"] = self._class_ref(
                        detail["ClassRef"], "Line.SalesItemLineDetail.ClassRef"
                    )
                price = _num(detail.get("UnitPrice"))
                qty = _num(detail.get("Qty"))
                amount = _num(line.get("Amount"))
                if price is None and qty is not None and amount is not None and qty:
                    price = round(amount / qty, 5)
                if price is None:
                    price = _num(item.get("UnitPrice"))
                if qty is None:
                    qty = 1.0 if amount is None or not price else round(amount / price, 5)
                if price is not None:
                    detail["UnitPrice"] = price
                    amount = round(qty * price, 2)
                detail["Qty"] = qty
                if amount is None:
                    raise required("Line.Amount")
                line["Amount"] = amount
                detail.setdefault("TaxCodeRef", TAX_NON)
                detail.setdefault("ItemAccountRef", item.get("IncomeAccountRef", SALES_ACCOUNT))
                subtotal += amount
            elif kind == "GroupLineDetail":
                group = line.get("GroupLineDetail") or {}
                if not group.get("GroupItemRef"):
                    raise required("Line.GroupLineDetail.GroupItemRef")
                item = self._ref("Item", group["GroupItemRef"], "GroupItemRef", "Item")
                group["GroupItemRef"] = {"value": item["Id"], "name": item.get("Name", "")}
                inner = group.get("Line") or []
                inner_total, _ = self._compute_lines(inner, nested=True)
                group["Line"] = [x for x in inner if x.get("DetailType") != "SubTotalLineDetail"]
                line["GroupLineDetail"] = group
                line["Amount"] = inner_total
                subtotal += inner_total
            elif kind == "DiscountLineDetail":
                discounts.append(line)
            elif kind in ("DescriptionOnly",):
                line.setdefault("DescriptionLineDetail", {})
            else:
                raise invalid_property(f"Unsupported Line.DetailType {kind}", "Line.DetailType")
            if kind != "DiscountLineDetail":
                if not str(line.get("Id", "")).isdigit():
                    line["Id"] = str(next_id)
                    next_id += 1
                kept.append(line)
        subtotal = round(subtotal, 2)
        discount = 0.0
        for line in discounts:
            detail = line.get("DiscountLineDetail") or {}
            if detail.get("PercentBased") and _num(detail.get("DiscountPercent")) is not None:
                line["Amount"] = round(subtotal * float(detail["DiscountPercent"]) / 100, 2)
            elif _num(line.get("Amount")) is None:
                raise Fault.of(
                    DISCOUNT_INCOMPLETE, "Discount amount or percent should be provided."
                )
            discount += float(line["Amount"])
        for index, line in enumerate(kept, start=1):
            line["LineNum"] = index
            # QBO's key order, so that responses look like the real ones.
            ordered = {k: line[k] for k in LINE_KEY_ORDER if k in line}
            ordered.update(line)
            line.clear()
            line.update(ordered)
        if not nested:
            kept.append(
                {"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
            )
            kept.extend(discounts)
        lines[:] = kept
        return subtotal, round(discount, 2)
