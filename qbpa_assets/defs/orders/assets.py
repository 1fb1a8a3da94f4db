"""Order import: PocketAdvantage orders from the Inventiv database → QuickBooks sales orders."""

import dagster as dg

from qbpa_assets.defs.keys import (
    INVENTIV_ORDERS,
    ORDER_STATUS,
    SALES_ORDER_STATUS,
    SALES_ORDERS,
    STAGING_CUSTOMERS,
    STAGING_ITEMS,
    STAGING_SALES_REPS,
)
from qbpa_assets.defs.orders.edits import apply_order_changes, order_status_target
from qbpa_assets.defs.partitions import order_daily_partitions
from qbpa_assets.defs.resources.inventiv_db import InventivDbResource
from qbpa_assets.defs.resources.quickbooks import QuickBooksResource
from qbpa_assets.defs.resources.warehouse import QbpaSettings, WarehouseResource
from qbpa_assets.lib.markdown import markdown_table
from qbpa_assets.lib.orders.copy import copy_orders
from qbpa_assets.lib.orders.importer import import_orders
from qbpa_assets.lib.orders.rejects import open_rejects, rejects_table
from qbpa_assets.lib.orders.report import rejects_markdown
from qbpa_assets.lib.warehouse.tables import existing_tables

REJECTS_CHECK = "no_rejected_orders"


@dg.asset(
    key=INVENTIV_ORDERS,
    group_name="inventiv_db",
    kinds={"odbc", "duckdb"},
    pool="duckdb",
    partitions_def=order_daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def inventiv_orders(
    context: dg.AssetExecutionContext,
    inventiv_db: InventivDbResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """PocketAdvantage orders (header + lines) of the day, copied from the Inventiv database.

    Grain: one row per order in ``inventiv_db.orders`` and one per line in
    ``inventiv_db.order_lines``, for orders whose ORDER_DATE falls in the partition (today
    included, since reps keep taking orders). Re-running a day replaces that day's copy.
    """
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date()
    # The mapping (with any QBPA_MAPPINGS_DIR override) is loaded and checked before anything.
    mapping = inventiv_db.mapping()
    with inventiv_db.get_db() as db, warehouse.get_connection() as con:
        copied = copy_orders(db, con, start, end, mapping=mapping)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": copied.orders,
            "order_lines": copied.lines,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
        }
    )


@dg.asset(
    key=SALES_ORDERS,
    deps=[INVENTIV_ORDERS, STAGING_CUSTOMERS, STAGING_ITEMS, STAGING_SALES_REPS],
    group_name="quickbooks",
    kinds={"quickbooks", "duckdb"},
    pool="duckdb",
    partitions_def=order_daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[
        dg.AssetCheckSpec(
            REJECTS_CHECK,
            asset=SALES_ORDERS,
            description=(
                "Rejected orders of every day still waiting for a fix, with every reason (not "
                "only this day's: an older reject keeps the check failing). They are tried "
                "again on every run of their day: fixing them in PocketAdvantage is enough."
            ),
        )
    ],
)
def sales_orders(
    context: dg.AssetExecutionContext,
    quickbooks: QuickBooksResource,
    warehouse: WarehouseResource,
    inventiv_db: InventivDbResource,
    qbpa: QbpaSettings,
) -> dg.MaterializeResult:
    """Orders of the day created in QuickBooks as sales orders (Estimates by default).

    Grain: the ledger ``quickbooks.sales_orders``, one row per Inventiv order: QuickBooks id and
    DocNumber, status (created / adopted / rejected), reasons, timestamps. Exactly once: the
    DocNumbers are looked up first (an order a crashed run already created is adopted), creation
    goes through the batch endpoint with a deterministic ``requestid``, and the ledger is written
    after every batch. Rejected orders are retried on every run.
    """
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date()
    entity = qbpa.sales_order_entity
    # The mapping (with any QBPA_MAPPINGS_DIR override) is loaded before anything is sent.
    mapping = inventiv_db.mapping()
    target = order_status_target(mapping)
    with quickbooks.get_client(logger=context.log) as client:
        with warehouse.get_connection() as con:
            _require_master_data(con)
            # The order's REP_ID: checked against staging/sales_reps, written the source's way.
            result = import_orders(
                con,
                client,
                start,
                end,
                entity=entity,
                mapping=mapping,
                logger=context.log,
                rep_source=qbpa.rep_source,
            )
            # Edits and cancellations of orders already in QuickBooks (issue 13).
            edits_meta = apply_order_changes(
                context,
                con,
                client,
                inventiv_db,
                mapping,
                target,
                start,
                end,
                entity,
                rep_source=qbpa.rep_source,
            )
            still_open = open_rejects(con)
    rejects_md = rejects_markdown(result)
    created_ids = [row.qbo_id for row in result.created]
    changed = result.changed_after_create
    if changed:
        context.log.warning(
            f"{len(changed)} order(s) changed in Inventiv after they were created in QuickBooks;"
            " they are not re-created (open documents are updated: see edits)."
        )
    return dg.MaterializeResult(
        metadata={
            "entity": entity,
            "created": len(result.created),
            "adopted": len(result.adopted),
            "rejected": len(result.rejected),
            "changed_after_create": len(changed),
            "api_calls": result.api_calls,
            "batches": result.batches,
            "created_qbo_ids": dg.MetadataValue.json(created_ids[:500]),
            "rejects": dg.MetadataValue.md(rejects_md),
            "changed_orders": dg.MetadataValue.md(
                markdown_table(
                    ["order id", "doc number", "QuickBooks id"],
                    [(r.order_id, r.doc_number, r.qbo_id) for r in changed[:50]],
                )
            ),
            **edits_meta,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=REJECTS_CHECK,
                passed=not still_open,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "rejected": len(result.rejected),
                    "rejects": dg.MetadataValue.md(rejects_md),
                    "open_rejects": len(still_open),
                    "open_rejects_all_days": dg.MetadataValue.md(
                        markdown_table(
                            ["day", "order id", "order no", "reasons"], rejects_table(still_open)
                        )
                    ),
                },
            )
        ],
    )


def _require_master_data(con) -> None:
    """Orders are validated against the staged customers and items: they must exist."""
    missing = sorted({"customers", "items"} - existing_tables(con))
    if missing:
        raise dg.Failure(
            description=(
                "Orders cannot be validated yet: the staged master data "
                f"({', '.join('staging/' + m for m in missing)}) has never been built. Run "
                "nightly_master_data_job (or materialize staging/customers and staging/items); "
                "the new-order sensor retries this day afterwards, so no order is lost."
            )
        )


sales_order_import_job = dg.define_asset_job(
    name="sales_order_import_job",
    # The order status (unpartitioned) follows every import: QuickBooks read back, the status
    # written into the Inventiv database (defs/orders/status.py).
    selection=dg.AssetSelection.assets(
        INVENTIV_ORDERS, SALES_ORDERS, SALES_ORDER_STATUS, ORDER_STATUS
    ),
    partitions_def=order_daily_partitions,
    description="New PocketAdvantage orders → QuickBooks sales orders (Estimates by default).",
)
