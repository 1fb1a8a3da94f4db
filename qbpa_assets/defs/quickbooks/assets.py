"""Raw QuickBooks Online extracts: the untouched JSON, one row per entity, in DuckDB."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from qbpa_assets.defs.partitions import invoice_daily_partitions
from qbpa_assets.defs.resources.quickbooks import QuickBooksResource
from qbpa_assets.defs.resources.warehouse import WarehouseResource
from qbpa_assets.lib.markdown import query_preview
from qbpa_assets.lib.warehouse import raw

# CDC reaches back 30 days; keep a margin so a window at the edge is not refused.
CDC_REACH = timedelta(days=29, hours=23)


def _land_list_entity(
    context: dg.AssetExecutionContext,
    entity: str,
    quickbooks: QuickBooksResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    # Fetch first, then open DuckDB: the file lock is held for seconds, not for the whole
    # extraction, so a parallel run only waits for the load.
    with warehouse.scratch_dir(entity.lower()) as scratch:
        with quickbooks.get_client(logger=context.log) as client:
            # List entities hide inactive rows unless Active is filtered.
            extract = client.extract_pages(entity, scratch, where="Active IN (true, false)")
        with warehouse.get_connection() as con:
            rows = raw.replace_list_table(con, entity, extract.files)
            table = raw.LIST_TABLES[entity]
            inactive = con.execute(f"SELECT count(*) FROM {table} WHERE NOT active").fetchone()[0]
            preview = query_preview(
                con,
                f"SELECT id, sync_token, last_updated, active FROM {table} "
                "ORDER BY last_updated DESC LIMIT 5",
            )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "inactive_rows": inactive,
            "pages": extract.pages,
            "api_calls": extract.api_calls,
            "table": raw.LIST_TABLES[entity],
            "latest_changes": dg.MetadataValue.md(preview),
        }
    )


@dg.asset(
    key=["quickbooks", "customers"],
    group_name="quickbooks",
    kinds={"quickbooks", "duckdb"},
    pool="duckdb",
)
def quickbooks_customers(
    context: dg.AssetExecutionContext,
    quickbooks: QuickBooksResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Every QuickBooks Customer, active and inactive, as QuickBooks sent it.

    Grain: one row per customer (id, sync token, last updated, active, JSON payload). The table is
    replaced as a whole each night in one transaction, so readers never see half an extract.
    """
    return _land_list_entity(context, "Customer", quickbooks, warehouse)


@dg.asset(
    key=["quickbooks", "items"],
    group_name="quickbooks",
    kinds={"quickbooks", "duckdb"},
    pool="duckdb",
)
def quickbooks_items(
    context: dg.AssetExecutionContext,
    quickbooks: QuickBooksResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Every QuickBooks Item (products, services, categories), active and inactive.

    Grain: one row per item (id, sync token, last updated, active, JSON payload), replaced as a
    whole each night in one transaction.
    """
    return _land_list_entity(context, "Item", quickbooks, warehouse)


def _qbo_datetime(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


@dg.asset(
    key=["quickbooks", "invoices"],
    group_name="quickbooks",
    kinds={"quickbooks", "duckdb"},
    pool="duckdb",
    partitions_def=invoice_daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def quickbooks_invoices(
    context: dg.AssetExecutionContext,
    quickbooks: QuickBooksResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """QuickBooks invoices (with their lines) whose ``MetaData.LastUpdatedTime`` is in the window.

    Grain: one row per invoice, upserted by Id keeping the newest SyncToken, so re-running a day
    changes nothing and an invoice edited later simply moves to the later day. Deletions inside
    CDC's 30-day reach are recorded as tombstones (``deleted = true``). A backfill of a range runs
    as one extraction of the whole range.
    """
    window = context.partition_time_window
    start, end = window.start, window.end
    where = (
        f"MetaData.LastUpdatedTime >= '{_qbo_datetime(start)}' "
        f"AND MetaData.LastUpdatedTime < '{_qbo_datetime(end)}'"
    )
    # Deletions are only visible through CDC, which reaches back 30 days: a window (or the
    # older part of a backfilled range) beyond that cannot learn of them.
    cdc_since = max(start, datetime.now(UTC) - CDC_REACH)
    cdc_checked = cdc_since == start
    tombstones: list[dict] = []
    with warehouse.scratch_dir("invoice") as scratch:
        with quickbooks.get_client(logger=context.log) as client:
            extract = client.extract_pages("Invoice", scratch, where=where)
            if cdc_since < end:
                changed = client.cdc(["Invoice"], cdc_since).get("Invoice", [])
                tombstones = raw.deleted_in_window(changed, start, end)
            api_calls = client.stats.get("requests", extract.api_calls)
        with warehouse.get_connection() as con:
            upserted, deleted = raw.upsert_invoices(con, extract.files, tombstones)
            window_sql = f"FROM {raw.INVOICE_TABLE} WHERE last_updated >= ? AND last_updated < ?"
            total = con.execute(f"SELECT count(*) {window_sql}", [start, end]).fetchone()[0]
            preview = query_preview(
                con,
                "SELECT id, payload ->> 'DocNumber' AS doc_number, txn_date, last_updated, "
                f"deleted {window_sql} ORDER BY last_updated DESC LIMIT 5",
                [start, end],
            )
    if not cdc_checked:
        reach = "for it" if cdc_since >= end else f"before {cdc_since.isoformat()}"
        context.log.warning(
            f"Window starts more than 30 days ago: QuickBooks CDC cannot report deletions {reach}."
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "invoices_fetched": upserted,
            "deleted_tombstones": deleted,
            "deletions_checked": cdc_checked,
            "deletions_checked_since": min(cdc_since, end).isoformat(),
            "pages": extract.pages,
            "api_calls": api_calls,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "latest_changes": dg.MetadataValue.md(preview),
        }
    )
