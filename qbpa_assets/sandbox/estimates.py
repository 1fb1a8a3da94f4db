"""An Estimate's life: its ``TxnStatus``, and the Invoice made from it (``LinkedTxn``).

``TxnStatus`` is ``Pending`` on a new Estimate; a write may set ``Pending``, ``Accepted``,
``Closed``, ``Rejected`` or ``Converted`` (anything else is Fault 2010). An Invoice created with
``LinkedTxn: [{"TxnId": <estimate>, "TxnType": "Estimate"}]`` is linked both ways, as QBO links
it: the Estimate gets ``LinkedTxn`` → the Invoice and ``TxnStatus`` ``Closed``, a new
SyncToken and LastUpdatedTime (so CDC and ``MetaData.LastUpdatedTime`` queries see it).
Deleting that Invoice removes the link and re-opens the Estimate (``Pending``).

Test controls, as a QBO user would act in the UI:

* ``convert_estimate(estimate_id, status="Closed", doc_number=None)``: makes an Invoice of the
  Estimate's lines (customer, custom fields, class, memo carried over) and links them; returns
  the Invoice. ``status="Converted"`` is what companies with progress invoicing see.
* ``set_estimate_status(estimate_id, status, accepted_by=None)``: changes the status (``Accepted``
  also records ``AcceptedBy`` and ``AcceptedDate``).

Both are ``POST /_emulator/convert_estimate`` / ``set_estimate_status`` over HTTP too (JSON
arguments of the same names).
"""

from __future__ import annotations

import copy
from typing import Any

from qbpa_assets.sandbox.faults import invalid_property, invalid_ref
from qbpa_assets.sandbox.wire import JSON

TXN_STATUSES = ("Pending", "Accepted", "Closed", "Rejected", "Converted")
CARRIED = (
    "CustomerRef",
    "CustomField",
    "ClassRef",
    "CustomerMemo",
    "BillAddr",
    "ShipAddr",
    "BillEmail",
    "SalesTermRef",
    "PrivateNote",
)


def checked_status(status: Any) -> str:
    """An Estimate's ``TxnStatus`` as sent (or Fault 2010 for a value QBO does not know)."""
    if status not in TXN_STATUSES:
        raise invalid_property(
            f"Invalid TxnStatus {status!r}: one of {', '.join(TXN_STATUSES)}", "TxnStatus"
        )
    return str(status)


def _estimate_links(txn: JSON) -> list[str]:
    return [
        str(link.get("TxnId"))
        for link in txn.get("LinkedTxn") or []
        if isinstance(link, dict) and link.get("TxnType") == "Estimate"
    ]


def _other_links(estimate: JSON, invoice_id: str) -> list[JSON]:
    """The Estimate's ``LinkedTxn`` without its link to one Invoice."""
    return [
        link
        for link in estimate.get("LinkedTxn") or []
        if not (link.get("TxnType") == "Invoice" and link.get("TxnId") == invoice_id)
    ]


class EstimateLifecycle:
    """Links between Estimates and Invoices, and the controls that act on Estimates."""

    def _check_estimate_links(self, invoice: JSON) -> None:
        """610 for an Invoice's ``LinkedTxn`` to an Estimate that does not exist."""
        for estimate_id in _estimate_links(invoice):
            if estimate_id not in self._tables["Estimate"]:
                raise invalid_ref("Estimate", estimate_id, "LinkedTxn.TxnId")

    def _link_estimates(self, invoice: JSON, status: str, before: JSON | None) -> None:
        """Link the Estimates an Invoice newly names back to it and close them (under the lock)."""
        known = set(_estimate_links(before)) if before is not None else set()
        for estimate_id in _estimate_links(invoice):
            if estimate_id in known:
                continue
            estimate = self._tables["Estimate"].get(estimate_id)
            if estimate is None:
                continue
            links = _other_links(estimate, invoice["Id"])
            links.append({"TxnId": invoice["Id"], "TxnType": "Invoice"})
            self._change_estimate(estimate, LinkedTxn=links, TxnStatus=status)

    def _unlink_invoice(self, invoice: JSON) -> None:
        """An Invoice made from Estimates was deleted: re-open them (under the lock)."""
        for estimate_id in _estimate_links(invoice):
            estimate = self._tables["Estimate"].get(estimate_id)
            if estimate is None:
                continue
            links = _other_links(estimate, invoice["Id"])
            status = estimate.get("TxnStatus")
            if not any(link.get("TxnType") == "Invoice" for link in links):
                status = "Pending"
            self._change_estimate(estimate, LinkedTxn=links, TxnStatus=status)

    def _change_estimate(self, estimate: JSON, **changes: Any) -> JSON:
        new = copy.deepcopy(estimate)
        new.update(changes)
        new["SyncToken"] = self._bump(estimate)
        self._store("Estimate", self._touch(new))
        return new

    # ------------------------------------------------------------------ controls

    def convert_estimate(
        self, estimate_id: str, status: str = "Closed", doc_number: str | None = None
    ) -> JSON:
        """Make an Invoice of an Estimate, as a QBO user would; return the Invoice.

        Args:
            estimate_id: The Estimate's Id.
            status: The Estimate's status afterwards (``Closed``, or ``Converted``).
            doc_number: The Invoice's DocNumber; default the next free number.
        """
        checked_status(status)
        with self._lock:
            estimate = self._tables["Estimate"].get(str(estimate_id))
            if estimate is None:
                raise KeyError(f"Estimate {estimate_id} not found")
            invoice: JSON = {k: copy.deepcopy(estimate[k]) for k in CARRIED if k in estimate}
            invoice["Line"] = [
                copy.deepcopy(line)
                for line in estimate.get("Line", [])
                if line.get("DetailType") != "SubTotalLineDetail"
            ]
            invoice["LinkedTxn"] = [{"TxnId": estimate["Id"], "TxnType": "Estimate"}]
            invoice["DocNumber"] = doc_number or self._free_doc_number("Invoice")
            _, created = self._write("Invoice", None, invoice, "", link_status=status)
            return copy.deepcopy(created)

    def set_estimate_status(
        self, estimate_id: str, status: str, accepted_by: str | None = None
    ) -> JSON:
        """Change an Estimate's ``TxnStatus`` as a QBO user would; return the Estimate."""
        checked_status(status)
        with self._lock:
            estimate = self._tables["Estimate"].get(str(estimate_id))
            if estimate is None:
                raise KeyError(f"Estimate {estimate_id} not found")
            changes: JSON = {"TxnStatus": status}
            if status == "Accepted":
                changes["AcceptedBy"] = accepted_by or "Customer"
                changes["AcceptedDate"] = self.now.date().isoformat()
            return copy.deepcopy(self._change_estimate(estimate, **changes))

    def _free_doc_number(self, entity: str) -> str:
        number = 1000 + self._next_id.get("txn", 1)
        while str(number) in self._doc_numbers[entity]:
            number += 1
        return str(number)
