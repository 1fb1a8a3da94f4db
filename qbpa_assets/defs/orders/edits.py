"""The step of the order run that applies PocketAdvantage edits and cancellations.

Called by ``quickbooks/sales_orders`` right after the import (same client, same DuckDB
connection, same window); the logic is ``lib/orders/edits.py``. The ``[status]`` section of the
mapping is checked before anything is sent, so a bad one fails the run naming the file.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import dagster as dg
import duckdb

from qbpa_assets.defs.resources.inventiv_db import InventivDbResource
from qbpa_assets.lib.markdown import markdown_table
from qbpa_assets.lib.master_data.rep_source import RepSource
from qbpa_assets.lib.orders.changes import cancelled_order_ids
from qbpa_assets.lib.orders.edits import apply_changes
from qbpa_assets.lib.orders.mapping import OrderMapping
from qbpa_assets.lib.orders.status_sql import StatusTarget, status_target


def order_status_target(mapping: OrderMapping) -> StatusTarget:
    """The ``[status]`` policy of the mapping (raises naming the file when it is invalid)."""
    return status_target(mapping.path)


def apply_order_changes(
    context: dg.AssetExecutionContext,
    con: duckdb.DuckDBPyConnection,
    client: Any,
    inventiv_db: InventivDbResource,
    mapping: OrderMapping,
    target: StatusTarget,
    start: date,
    end: date,
    entity: str,
    rep_source: RepSource | None = None,
) -> dict[str, Any]:
    """Apply the window's edits and cancellations; return the metadata to report."""
    cancelled: set[str] = set()
    if target.cancelled_sql:
        with inventiv_db.get_db() as db:
            cancelled = cancelled_order_ids(db, target, start, end)
    result = apply_changes(
        con,
        client,
        start,
        end,
        target,
        entity=entity,
        mapping=mapping,
        cancelled=cancelled,
        logger=context.log,
        rep_source=rep_source,
    )
    return {
        "edits": dg.MetadataValue.json(result.counts()),
        "edit_api_calls": result.api_calls,
        "edited_orders": dg.MetadataValue.md(
            markdown_table(
                ["order id", "action", "QuickBooks id", "message"],
                [(c.order_id, c.action, c.qbo_id, c.message) for c in result.changes[:50]],
            )
        ),
    }
