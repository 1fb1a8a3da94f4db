"""Invoices of a window: raw QuickBooks JSON → staged invoice lines → ``invoice.fil``.

Every step works on the run's :class:`~qbpa_assets.lib.invoices.coverage.Coverage`: the partition,
widened back to the end of the last delivered ``invoice.fil`` when nights were missed, and the
file also re-delivers what was sent since the nightly pick-up boundary.
"""

import dataclasses
from datetime import UTC, datetime, timedelta

import dagster as dg

from qbpa_assets.defs import keys
from qbpa_assets.defs.inventiv_ftp import NIGHTLY_FRESHNESS, export_fil, fil_checks
from qbpa_assets.defs.invoices.jobs import NIGHTLY_AT
from qbpa_assets.defs.partitions import TIMEZONE, invoice_daily_partitions
from qbpa_assets.defs.resources.inventiv_ftp import InventivFtpResource
from qbpa_assets.defs.resources.quickbooks import QuickBooksResource
from qbpa_assets.defs.resources.warehouse import QbpaSettings, WarehouseResource
from qbpa_assets.lib.inventiv import deliveries
from qbpa_assets.lib.invoices import staging
from qbpa_assets.lib.invoices.coverage import Coverage, pickup_boundary, plan
from qbpa_assets.lib.mappings import load_layout
from qbpa_assets.lib.markdown import query_preview, table_preview
from qbpa_assets.lib.warehouse import raw

# Every step of the flow: daily partitions, a backfilled range in one run, one DuckDB writer.
DAILY = {
    "partitions_def": invoice_daily_partitions,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "pool": "duckdb",
}

# CDC reaches back 30 days; keep a margin so a window at the edge is not refused.
CDC_REACH = timedelta(days=29, hours=23)


def _qbo_datetime(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def invoice_coverage(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Coverage:
    """The run's coverage, from its partition window and the record of delivered files."""
    window = context.partition_time_window
    asset = keys.INVOICE_FIL.to_user_string()
    boundary = pickup_boundary(datetime.now(UTC), TIMEZONE, NIGHTLY_AT)
    with warehouse.get_connection() as con:
        until = deliveries.delivered_until(con, asset)
        pending = [
            i for d in deliveries.deliveries(con, asset, since=boundary) for i in d.intervals
        ]
    coverage = plan((window.start, window.end), until, pending)
    if coverage.caught_up_from is not None:
        context.log.warning(
            f"The last invoice.fil delivered ends {coverage.caught_up_from.isoformat()}, before "
            f"this window: catching up from there (missed nights)."
        )
    return coverage


def _coverage_metadata(coverage: Coverage) -> dict:
    caught_up = coverage.caught_up_from
    return {
        "window_start": coverage.extract[0].isoformat(),
        "window_end": coverage.extract[1].isoformat(),
        "caught_up_from": caught_up.isoformat() if caught_up else "no missed nights",
    }


@dg.asset(
    key=keys.QBO_INVOICES,
    group_name="quickbooks",
    kinds={"quickbooks", "duckdb"},
    **DAILY,
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
    coverage = invoice_coverage(context, warehouse)
    start, end = coverage.extract
    where = (
        f"MetaData.LastUpdatedTime >= '{_qbo_datetime(start)}' "
        f"AND MetaData.LastUpdatedTime < '{_qbo_datetime(end)}'"
    )
    # Deletions are only visible through CDC, which reaches back 30 days: a window (or the
    # older part of a backfilled range) beyond that cannot learn of them.
    cdc_since = max(start, datetime.now(UTC) - CDC_REACH)
    cdc_checked = cdc_since == start
    tombstones: list[dict] = []
    with warehouse.scratch_dir("invoice") as scratch, warehouse.get_connection() as con:
        # Each batch of pages is landed while the next ones download.
        load = raw.InvoiceLoad(con)
        with quickbooks.get_client(logger=context.log) as client:
            extract = client.extract_pages(
                "Invoice", scratch, where=where,
                on_pages=load.add, pages_per_call=raw.PAGES_PER_STATEMENT,
            )  # fmt: skip
            if cdc_since < end:
                changed = client.cdc(["Invoice"], cdc_since).get("Invoice", [])
                tombstones = raw.deleted_in_window(changed, start, end)
            api_calls = client.stats.get("requests", extract.api_calls)
        upserted, deleted = load.finish(tombstones)
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
            **_coverage_metadata(coverage),
            "latest_changes": dg.MetadataValue.md(preview),
        }
    )


@dg.asset(
    key=keys.STAGING_INVOICE_LINES,
    deps=[keys.QBO_INVOICES],
    group_name="staging",
    kinds={"duckdb"},
    **DAILY,
)
def staging_invoice_lines(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, qbpa: QbpaSettings
) -> dg.MaterializeResult:
    """One row per invoice sales line, with its invoice header, for invoices changed in the day.

    Group lines are expanded into their item lines, discount lines keep their own line type,
    subtotal and description-only lines are dropped; voided and deleted invoices carry their
    status. Re-running a day replaces exactly that day's rows (after missed nights, the run
    also stages the days since the last delivered ``invoice.fil``).
    """
    coverage = invoice_coverage(context, warehouse)
    start, end = coverage.extract
    with warehouse.get_connection() as con:
        # The invoice's sales rep (rep_id) comes from QBPA_SALES_REP_SOURCE.
        rows = staging.refresh_invoice_lines(con, start, end, qbpa.rep_source)
        preview = table_preview(
            con,
            keys.table_name(keys.STAGING_INVOICE_LINES),
            "WHERE invoice_last_updated >= ? AND invoice_last_updated < ?",
            [start, end],
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            **_coverage_metadata(coverage),
            "preview": dg.MetadataValue.md(preview),
        }
    )


@dg.asset(
    key=keys.INVOICE_FIL,
    deps=[keys.STAGING_INVOICE_LINES],
    group_name="inventiv_ftp",
    kinds={"sftp", "file"},
    **DAILY,
    check_specs=fil_checks(keys.INVOICE_FIL),
    freshness_policy=NIGHTLY_FRESHNESS,
)
def invoice_fil(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    inventiv_ftp: InventivFtpResource,
    qbpa: QbpaSettings,
) -> dg.MaterializeResult:
    """``invoice.fil`` for the partition (or a backfilled range) in ``latest<account_id>/``.

    One line per invoice sales line changed in the window, so reps see recent sales history. A
    single-run backfill of several days writes one file covering the whole range. The file also
    covers every day not yet delivered: after failed nights, the days since the last delivered
    file; after other deliveries since the nightly pick-up (02:30), their days too, so per-day
    runs never leave a file with only the last day. The local copy is kept per window under
    ``QBPA_DATA_DIR/exports/invoice/``, a dated copy of each delivery under ``exports/history/``.
    """
    coverage = invoice_coverage(context, warehouse)
    first, end = coverage.window
    label = first.strftime("%Y-%m-%d")
    last_day = (end - timedelta(days=1)).strftime("%Y-%m-%d")
    if last_day != label:
        label = f"{label}_{last_day}"
    local_dir = warehouse.exports_dir / "invoice" / label
    local_dir.mkdir(parents=True, exist_ok=True)
    layout = load_layout("invoice.fil", qbpa.mappings_path)
    if not layout.window_column:  # an override that does not name it: the staged column
        layout = dataclasses.replace(layout, window_column="invoice_last_updated")
    where, params = coverage.where(layout.window_where())
    covers = ", ".join(f"[{s.isoformat()}, {e.isoformat()})" for s, e in coverage.intervals)
    return export_fil(
        context,
        layout,
        local_dir / layout.file_name,
        warehouse,
        inventiv_ftp,
        where=where,
        params=params,
        intervals=coverage.intervals,
        metadata={**_coverage_metadata(coverage), "covers": covers},
    )
