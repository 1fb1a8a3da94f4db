"""What an import run did: ledger rows per outcome, changed orders, counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from qbpa_assets.lib.orders.ledger import LedgerRow
from qbpa_assets.lib.orders.window import WindowOrder, same_content

if TYPE_CHECKING:  # pragma: no cover
    from qbpa_assets.lib.orders.lookup import Adoption


@dataclass(frozen=True)
class ChangedOrder:
    """An order modified in PocketAdvantage after its QuickBooks document was created."""

    order_id: str
    order_no: str | None
    doc_number: str | None
    qbo_entity: str
    qbo_id: str | None
    created_from_modified_at: datetime | None
    current_modified_at: datetime | None
    content_changed: bool


def ledger_row(
    order: WindowOrder,
    entity: str,
    status: str,
    reasons: list[str] | None = None,
    *,
    doc: dict | None = None,
    request_id: str | None = None,
    order_hash: str | None = None,
) -> LedgerRow:
    """The ledger row of an order's outcome (``doc``: the QuickBooks document, if any)."""
    return LedgerRow(
        order_id=order.order_id,
        order_no=order.order_no,
        order_date=order.order_date,
        doc_number=(doc or {}).get("DocNumber") if doc else None,
        qbo_entity=entity,
        qbo_id=str(doc["Id"]) if doc and doc.get("Id") is not None else None,
        status=status,
        reasons=list(reasons or []),
        request_id=request_id,
        source_modified_at=order.modified_at,
        order_hash=order_hash or order.order_hash,
    )


@dataclass
class ImportResult:
    """What :func:`~qbpa_assets.lib.orders.importer.import_orders` did for one window."""

    created: list[LedgerRow] = field(default_factory=list)
    adopted: list[LedgerRow] = field(default_factory=list)
    rejected: list[LedgerRow] = field(default_factory=list)
    unchanged_skipped: int = 0
    changed_after_create: list[ChangedOrder] = field(default_factory=list)
    api_calls: int = 0
    batches: int = 0

    def counts(self) -> dict[str, int]:
        """Counts for metadata and logs."""
        return {
            "created": len(self.created),
            "adopted": len(self.adopted),
            "rejected": len(self.rejected),
            "unchanged_skipped": self.unchanged_skipped,
            "changed_after_create": len(self.changed_after_create),
            "api_calls": self.api_calls,
            "batches": self.batches,
        }

    def adopt(
        self,
        order: WindowOrder,
        entity: str,
        adoption: Adoption,
        request_id: str | None = None,
    ) -> LedgerRow:
        """The ledger row of an adopted document; reports it if the order changed since.

        The document was created from the order as it was then (its marker holds that content's
        hash): if the order has changed since, the ledger keeps the hash it was *sent* with, so
        this and every later run report it as changed instead of taking the new content as sent.
        """
        sent = adoption.sent_hash or order.order_hash
        changed = not same_content(sent, order.order_hash)
        row = ledger_row(
            order,
            entity,
            "adopted",
            doc=adoption.doc,
            request_id=request_id,
            order_hash=sent if changed else order.order_hash,
        )
        if changed:
            self.changed_after_create.append(
                ChangedOrder(
                    order.order_id,
                    order.order_no,
                    row.doc_number,
                    entity,
                    row.qbo_id,
                    None,
                    order.modified_at,
                    True,
                )
            )
        return row
