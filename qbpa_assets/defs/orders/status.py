"""Order status back to PocketAdvantage: what QuickBooks says, written into the Inventiv DB.

``quickbooks/sales_order_status`` follows the documents qbpa created (incrementally: a few
requests a run) and alerts while rejected orders of any day wait for a fix;
``inventiv_db/order_status`` writes each order's status into the Inventiv database (by default
``QBPA_ORDER_STATUS``; the ``[status]`` section of ``orders.toml`` points it elsewhere). Both run
after every order import (``sales_order_import_job``) and after the nightly master-data run
(``order_status_job``, started by ``order_status_after_master_data``).
"""

from datetime import UTC, datetime

import dagster as dg

from qbpa_assets.defs.keys import ORDER_STATUS, SALES_ORDER_STATUS, SALES_ORDERS
from qbpa_assets.defs.master_data.jobs import nightly_master_data_job
from qbpa_assets.defs.resources.inventiv_db import InventivDbResource
from qbpa_assets.defs.resources.quickbooks import QuickBooksResource
from qbpa_assets.defs.resources.warehouse import QbpaSettings, WarehouseResource
from qbpa_assets.lib.alerts.message import build_rejected_orders_alert
from qbpa_assets.lib.alerts.send import notify
from qbpa_assets.lib.markdown import markdown_table, query_preview
from qbpa_assets.lib.orders import status
from qbpa_assets.lib.orders.followup import TABLE as FOLLOW_TABLE
from qbpa_assets.lib.orders.followup import follow_documents
from qbpa_assets.lib.orders.rejects import fingerprint, open_rejects, rejects_table
from qbpa_assets.lib.orders.status_sql import status_target

REJECT_COLUMNS = ["day", "order id", "order no", "reasons"]
ALREADY = "alerted already today"


def _previous(context: dg.AssetExecutionContext) -> dict[str, object]:
    event = context.instance.get_latest_materialization_event(SALES_ORDER_STATUS)
    mat = event.asset_materialization if event else None
    return {k: getattr(v, "value", v) for k, v in (mat.metadata if mat else {}).items()}


def _alert_open_rejects(
    context: dg.AssetExecutionContext, rejects: list, print_fp: str, before: dict[str, object]
) -> str:
    """Alert when the open rejects changed, and once a day while any stays open."""
    if not rejects:
        return "none open"
    today = datetime.now(UTC).date().isoformat()
    if before.get("open_rejects_fingerprint") == print_fp and before.get("alerted_on") == today:
        return ALREADY
    table = markdown_table(REJECT_COLUMNS, rejects_table(rejects, 25))
    alert = build_rejected_orders_alert(
        rejected=len(rejects),
        rejects_markdown=table,
        run_id=context.run_id,
        asset_key_path=SALES_ORDERS.path,
    )
    outcome = notify(alert)
    return ", ".join(f"{k} {v}" for k, v in outcome.items()) or "no alert channel configured"


@dg.asset(
    key=SALES_ORDER_STATUS,
    deps=[SALES_ORDERS],
    group_name="quickbooks",
    kinds={"quickbooks", "duckdb"},
    pool="duckdb",
)
def sales_order_status(
    context: dg.AssetExecutionContext,
    quickbooks: QuickBooksResource,
    warehouse: WarehouseResource,
    qbpa: QbpaSettings,
) -> dg.MaterializeResult:
    """What QuickBooks says about each document qbpa created for a PocketAdvantage order.

    Grain: one row per document of the ledger in ``quickbooks.sales_order_status``: TxnStatus
    (Pending, Accepted, Closed, Rejected, Converted), the Invoice it is linked to and that
    invoice's DocNumber, SyncToken, last updated, voided/deleted. Read incrementally
    (``MetaData.LastUpdatedTime`` since the last read, CDC for deletions): a few requests a run,
    not one per order. Also lists the rejected orders of every day still waiting for a fix,
    and alerts on them (when they change, and once a day while any is open).
    """
    entity = qbpa.sales_order_entity
    with quickbooks.get_client(logger=context.log) as client, warehouse.get_connection() as con:
        followed = follow_documents(con, client, entity, logger=context.log)
        rejects = open_rejects(con)
        txn = con.execute(
            f"SELECT coalesce(txn_status, '-'), count(*) FROM {FOLLOW_TABLE} "
            "WHERE qbo_entity = ? GROUP BY 1 ORDER BY 1",
            [entity],
        ).fetchall()
    print_fp = fingerprint(rejects)
    before = _previous(context)
    alerted = _alert_open_rejects(context, rejects, print_fp, before)
    sent_today = rejects and alerted != ALREADY
    alerted_on = datetime.now(UTC).date().isoformat() if sent_today else before.get("alerted_on")
    return dg.MaterializeResult(
        metadata={
            "entity": entity,
            "documents_read": followed.changed,
            "read_first_time": followed.seeded,
            "deleted_in_quickbooks": followed.deleted,
            "api_calls": followed.api_calls,
            "by_txn_status": dg.MetadataValue.json(dict(txn)),
            "open_rejects": len(rejects),
            "open_rejects_table": dg.MetadataValue.md(
                markdown_table(REJECT_COLUMNS, rejects_table(rejects))
            ),
            "open_rejects_fingerprint": print_fp,
            "open_rejects_alert": alerted,
            "alerted_on": str(alerted_on or ""),
        }
    )


@dg.asset(
    key=ORDER_STATUS,
    deps=[SALES_ORDER_STATUS],
    group_name="inventiv_db",
    kinds={"odbc", "duckdb"},
    pool="duckdb",
)
def order_status(
    context: dg.AssetExecutionContext,
    inventiv_db: InventivDbResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Each PocketAdvantage order's status, written back into the Inventiv database.

    Grain: one row per order (``inventiv_db.order_status`` in DuckDB, the outbox, and the
    Inventiv table, by default ``QBPA_ORDER_STATUS(ORDER_ID, QBO_ID, QBO_DOC_NUMBER, STATUS,
    MESSAGE, INVOICE_DOC_NUMBER, UPDATED_AT)``, created when missing). STATUS is created,
    rejected (MESSAGE: every reason), updated, invoiced (INVOICE_DOC_NUMBER), closed or
    cancelled. Only changed rows are written, upserted by ORDER_ID in one transaction; when the
    write fails the run fails and the rows wait in DuckDB for the next run.
    """
    mapping = inventiv_db.mapping()
    target = status_target(mapping.path)
    with warehouse.get_connection() as con, inventiv_db.get_db() as db:
        result = status.flush_outbox(con, db, target, logger=context.log)
        preview = query_preview(
            con,
            "SELECT order_id, status, qbo_doc_number, invoice_doc_number, message, updated_at "
            f"FROM {status.OUTBOX} ORDER BY updated_at DESC, order_id LIMIT 20",
        )
    metadata = {
        "dagster/row_count": sum(result.by_status.values()),
        "by_status": dg.MetadataValue.json(result.by_status),
        "changed": result.changed,
        "written": result.written,
        "pending": result.pending,
        "target": "QBPA_ORDER_STATUS" if target.default_table else f"[status] of {target.path}",
        "preview": dg.MetadataValue.md(preview),
    }
    if result.error:
        raise dg.Failure(
            description=f"{result.error}. {result.pending} status row(s) wait in DuckDB "
            f"({status.OUTBOX}) and are written by the next run.",
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


order_status_job = dg.define_asset_job(
    name="order_status_job",
    selection=dg.AssetSelection.assets(SALES_ORDER_STATUS, ORDER_STATUS),
    description="What QuickBooks says about the orders → the status table in the Inventiv DB.",
)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[nightly_master_data_job],
    request_job=order_status_job,
    name="order_status_after_master_data",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After the nightly master-data run: follow QuickBooks, write order status.",
)
def order_status_after_master_data(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    """One order-status run per successful nightly master-data run."""
    return dg.RunRequest(run_key=f"after-{context.dagster_run.run_id}")
