"""Markdown for run metadata: the rejected orders and every reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from qbpa_assets.lib.orders.importer import ImportResult


def rejects_markdown(result: ImportResult) -> str:
    """A Markdown table of the rejected orders and every reason (for run metadata)."""
    if not result.rejected:
        return "No rejected orders."
    lines = ["| order id | order no | reasons |", "|---|---|---|"]
    for row in result.rejected:
        reasons = "; ".join(row.reasons)
        cells = [row.order_id, row.order_no or "", reasons]
        cells = [str(c).replace("|", "\\|").replace("\n", " ") for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
