"""Nightly export: staged tables in DuckDB, then the ``.fil`` files PocketAdvantage reads."""

import dataclasses
from datetime import timedelta
from pathlib import Path

import dagster as dg

from qbpa_assets.defs.partitions import invoice_daily_partitions
from qbpa_assets.defs.resources.inventiv_ftp import InventivFtpResource
from qbpa_assets.defs.resources.warehouse import QbpaSettings, WarehouseResource
from qbpa_assets.lib.mappings import Layout, load_layout
from qbpa_assets.lib.markdown import query_preview, records_table
from qbpa_assets.lib.warehouse import staging
from qbpa_assets.lib.warehouse.filwriter import FilResult, write_fil

STAGING_TABLES = {
    "customers": "staging.customers",
    "items": "staging.items",
    "invoice_lines": "staging.invoice_lines",
}


def _preview(con, table: str, where: str = "", params: list | None = None) -> dg.MetadataValue:
    return dg.MetadataValue.md(
        query_preview(con, f"SELECT * FROM {table} {where} LIMIT 5", params or [])
    )


# ----------------------------------------------------------------------------- staging


@dg.asset(
    key=["staging", "customers"],
    deps=[dg.AssetKey(["quickbooks", "customers"])],
    group_name="staging",
    kinds={"duckdb"},
    pool="duckdb",
)
def staging_customers(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Customers typed and flattened: one row per QuickBooks customer, active and inactive.

    Names, company, contact, bill/ship address parts, phone, e-mail, terms, balance, taxable,
    active, and the parent of a sub-customer. The source of ``customer.fil`` and of the order
    validation (an order must name an active customer).
    """
    with warehouse.get_connection() as con:
        rows = staging.refresh_customers(con)
        preview = _preview(con, STAGING_TABLES["customers"])
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "preview": preview})


@dg.asset(
    key=["staging", "items"],
    deps=[dg.AssetKey(["quickbooks", "items"])],
    group_name="staging",
    kinds={"duckdb"},
    pool="duckdb",
)
def staging_items(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Items typed and flattened: one row per QuickBooks item, active and inactive.

    Name, SKU, description, type, unit price, purchase cost, quantity on hand, taxable, active.
    The source of ``item.fil`` and of the order validation (order lines must name active items).
    """
    with warehouse.get_connection() as con:
        rows = staging.refresh_items(con)
        preview = _preview(con, STAGING_TABLES["items"])
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "preview": preview})


@dg.asset(
    key=["staging", "invoice_lines"],
    deps=[dg.AssetKey(["quickbooks", "invoices"])],
    group_name="staging",
    kinds={"duckdb"},
    pool="duckdb",
    partitions_def=invoice_daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def staging_invoice_lines(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """One row per invoice sales line, with its invoice header, for invoices changed in the day.

    Group lines are expanded into their item lines, discount lines keep their own line type,
    subtotal and description-only lines are dropped; voided and deleted invoices carry their
    status. Re-running a day replaces exactly that day's rows.
    """
    window = context.partition_time_window
    with warehouse.get_connection() as con:
        rows = staging.refresh_invoice_lines(con, window.start, window.end)
        preview = _preview(
            con,
            STAGING_TABLES["invoice_lines"],
            "WHERE invoice_last_updated >= ? AND invoice_last_updated < ?",
            [window.start, window.end],
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "window_start": window.start.isoformat(),
            "window_end": window.end.isoformat(),
            "preview": preview,
        }
    )


# ----------------------------------------------------------------------------- .fil files

FIELD_COUNT_CHECK = "same_field_count_on_every_row"
ROWS_MATCH_CHECK = "rows_written_equal_rows_staged"


def _fil_checks(key: list[str]) -> list[dg.AssetCheckSpec]:
    asset_key = dg.AssetKey(key)
    return [
        dg.AssetCheckSpec(
            FIELD_COUNT_CHECK,
            asset=asset_key,
            description="Every line of the file has as many fields as the header.",
        ),
        dg.AssetCheckSpec(
            ROWS_MATCH_CHECK,
            asset=asset_key,
            description="The file holds exactly the rows of the staged table (or window).",
        ),
    ]


def _export(
    context: dg.AssetExecutionContext,
    layout: Layout,
    local_path: Path,
    warehouse: WarehouseResource,
    inventiv_ftp: InventivFtpResource,
    where: str | None = None,
    params: list | None = None,
) -> dg.MaterializeResult:
    """Validate the layout, write the file from DuckDB, upload it atomically, report it."""
    with warehouse.get_connection() as con:
        # A bad mapping fails here, before anything is written or uploaded.
        layout.validate(con)
        result: FilResult = write_fil(con, layout, local_path, where=where, params=params)
        staged = con.execute(
            f"SELECT count(*) FROM {layout.source} {'WHERE ' + where if where else ''}",
            params or [],
        ).fetchone()[0]
    upload = inventiv_ftp.upload(result.path, layout.file_name)
    context.log.info(f"Uploaded {result.rows} rows ({result.bytes} bytes) to {upload.remote_path}")
    asset_key = context.asset_key
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.rows,
            "remote_path": upload.remote_path,
            "local_path": dg.MetadataValue.path(str(result.path)),
            "bytes": result.bytes,
            "sha256": result.sha256,
            "encoding": layout.encoding,
            "replaced_characters": result.replaced,
            "preview": dg.MetadataValue.md(records_table(result.preview)),
        },
        check_results=[
            dg.AssetCheckResult(
                asset_key=asset_key,
                check_name=FIELD_COUNT_CHECK,
                passed=bool(result.field_counts_ok),
            ),
            dg.AssetCheckResult(
                asset_key=asset_key,
                check_name=ROWS_MATCH_CHECK,
                passed=result.rows == staged,
                metadata={"rows_written": result.rows, "rows_staged": staged},
            ),
        ],
    )


@dg.asset(
    key=["inventiv_ftp", "customer_fil"],
    deps=[dg.AssetKey(["staging", "customers"])],
    group_name="inventiv_ftp",
    kinds={"sftp", "file"},
    pool="duckdb",
    check_specs=_fil_checks(["inventiv_ftp", "customer_fil"]),
)
def customer_fil(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    inventiv_ftp: InventivFtpResource,
    qbpa: QbpaSettings,
) -> dg.MaterializeResult:
    """``customer.fil`` in ``latest<account_id>/`` on the Inventiv FTP: the rep's customer list.

    Tab-delimited, one customer per line, columns from the ``customer.fil`` layout (a mapping
    file). Written to a temporary name and renamed over yesterday's file, so PocketAdvantage never
    reads a half-written file; a local copy stays in ``QBPA_DATA_DIR/exports/``.
    """
    layout = load_layout("customer.fil", qbpa.mappings_path)
    local_path = warehouse.exports_dir / "customer.fil"
    return _export(context, layout, local_path, warehouse, inventiv_ftp)


@dg.asset(
    key=["inventiv_ftp", "item_fil"],
    deps=[dg.AssetKey(["staging", "items"])],
    group_name="inventiv_ftp",
    kinds={"sftp", "file"},
    pool="duckdb",
    check_specs=_fil_checks(["inventiv_ftp", "item_fil"]),
)
def item_fil(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    inventiv_ftp: InventivFtpResource,
    qbpa: QbpaSettings,
) -> dg.MaterializeResult:
    """``item.fil`` in ``latest<account_id>/`` on the Inventiv FTP: the rep's product catalogue.

    Tab-delimited, one item per line, columns from the ``item.fil`` layout. Atomic upload as for
    ``customer.fil``; a local copy stays in ``QBPA_DATA_DIR/exports/``.
    """
    layout = load_layout("item.fil", qbpa.mappings_path)
    return _export(context, layout, warehouse.exports_dir / "item.fil", warehouse, inventiv_ftp)


@dg.asset(
    key=["inventiv_ftp", "invoice_fil"],
    deps=[dg.AssetKey(["staging", "invoice_lines"])],
    group_name="inventiv_ftp",
    kinds={"sftp", "file"},
    pool="duckdb",
    partitions_def=invoice_daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=_fil_checks(["inventiv_ftp", "invoice_fil"]),
)
def invoice_fil(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    inventiv_ftp: InventivFtpResource,
    qbpa: QbpaSettings,
) -> dg.MaterializeResult:
    """``invoice.fil`` for the partition (or a backfilled range) in ``latest<account_id>/``.

    One line per invoice sales line changed in the window, so reps see recent sales history. A
    single-run backfill of several days writes one file covering the whole range; the local copy
    is kept per window under ``QBPA_DATA_DIR/exports/invoice/``.
    """
    window = context.partition_time_window
    label = window.start.strftime("%Y-%m-%d")
    last_day = (window.end - timedelta(days=1)).strftime("%Y-%m-%d")
    if last_day != label:
        label = f"{label}_{last_day}"
    local_dir = warehouse.exports_dir / "invoice" / label
    local_dir.mkdir(parents=True, exist_ok=True)
    layout = load_layout("invoice.fil", qbpa.mappings_path)
    if not layout.window_column:  # an override that does not name it: the staged column
        layout = dataclasses.replace(layout, window_column="invoice_last_updated")
    return _export(
        context,
        layout,
        local_dir / layout.file_name,
        warehouse,
        inventiv_ftp,
        where=layout.window_where(),
        params=[window.start, window.end],
    )
