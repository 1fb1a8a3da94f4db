"""Delivering a ``.fil`` file to the Inventiv FTP, shared by the master-data and invoice flows.

:func:`export_fil` validates the layout, writes the file from DuckDB
(:mod:`qbpa_assets.lib.warehouse.filwriter`), uploads it atomically through the
``inventiv_ftp`` resource, keeps a dated copy (``QBPA_DATA_DIR/exports/history/``, and in
``INVENTIV_FTP_HISTORY_DIR`` on the FTP when set), records the delivery in
``inventiv_ftp.deliveries`` (:mod:`qbpa_assets.lib.inventiv.deliveries`) and reports it with the
two checks every ``.fil`` asset declares (:func:`fil_checks`). :func:`full_fil_asset` builds
the asset of a nightly full file (customers, items, …). Every ``.fil`` asset declares
:data:`NIGHTLY_FRESHNESS`; the stale-file alert (:mod:`qbpa_assets.defs.alerts.freshness`) reads
it.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from qbpa_assets.defs.resources.inventiv_ftp import InventivFtpResource
from qbpa_assets.defs.resources.warehouse import QbpaSettings, WarehouseResource
from qbpa_assets.lib.inventiv import deliveries
from qbpa_assets.lib.mappings import Layout, load_layout
from qbpa_assets.lib.markdown import records_table
from qbpa_assets.lib.warehouse.filwriter import FilResult, write_fil

FIELD_COUNT_CHECK = "same_field_count_on_every_row"
ROWS_MATCH_CHECK = "rows_written_equal_rows_staged"

# The nightly files: delivered every night, so a file older than a day and a bit is stale.
NIGHTLY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26))


def fil_checks(asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """The checks of a ``.fil`` asset, computed while the file is written."""
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


def export_fil(
    context: dg.AssetExecutionContext,
    layout: Layout,
    local_path: Path,
    warehouse: WarehouseResource,
    inventiv_ftp: InventivFtpResource,
    where: str | None = None,
    params: list | None = None,
    intervals: Sequence[deliveries.Interval] = (),
    metadata: dict | None = None,
) -> dg.MaterializeResult:
    """Validate the layout, write the file from DuckDB, upload it atomically, record it.

    Args:
        context: The asset's execution context (its key names the checks).
        layout: The file's layout (columns as SQL over the staged table).
        local_path: Where the local copy is written.
        warehouse: The DuckDB warehouse.
        inventiv_ftp: The FTP the file is uploaded to (``latest<account_id>/``).
        where: Optional filter of the staged rows (e.g. the invoice window).
        params: Parameters of ``where``.
        intervals: The windows of data the file covers (recorded with the delivery; empty for
            a full file).
        metadata: More metadata of the materialization.

    Returns:
        The materialization, with the file's metadata and both check results.
    """
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
    delivered_at = datetime.now(UTC)
    history = deliveries.keep_copy(
        result.path, warehouse.exports_dir / "history", layout.file_name, delivered_at
    )
    remote_history = inventiv_ftp.upload_history(
        result.path, deliveries.history_name(layout.file_name, delivered_at)
    )
    asset_key = context.asset_key
    delivery = deliveries.Delivery(
        asset=asset_key.to_user_string(),
        file_name=layout.file_name,
        delivered_at=delivered_at,
        intervals=tuple(intervals),
        rows=result.rows,
        bytes=result.bytes,
        sha256=result.sha256,
        remote_path=upload.remote_path,
        history_path=str(history),
        remote_history_path=remote_history,
        run_id=context.run_id,
        partition=_partition_label(context),
    )
    with warehouse.get_connection() as con:
        deliveries.record(con, delivery)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.rows,
            "remote_path": upload.remote_path,
            "local_path": dg.MetadataValue.path(str(result.path)),
            "bytes": result.bytes,
            "sha256": result.sha256,
            "encoding": layout.encoding,
            "replaced_characters": result.replaced,
            "delivered_at": delivered_at.isoformat(),
            "history_path": dg.MetadataValue.path(str(history)),
            **({"remote_history_path": remote_history} if remote_history else {}),
            "preview": dg.MetadataValue.md(records_table(result.preview)),
            **(metadata or {}),
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


def _partition_label(context: dg.AssetExecutionContext) -> str | None:
    if not context.has_partition_key and not context.has_partition_key_range:
        return None
    keys = context.partition_key_range
    return keys.start if keys.start == keys.end else f"{keys.start}...{keys.end}"


def full_fil_asset(
    key: dg.AssetKey, staged: dg.AssetKey, layout_name: str, description: str
) -> dg.AssetsDefinition:
    """The asset of a nightly full file: the whole staged table → ``layout_name`` on the FTP.

    Args:
        key: The file's asset key (``keys.CUSTOMER_FIL``, …).
        staged: The staged table it is written from.
        layout_name: The layout (``customer.fil``; a file of that name in ``QBPA_MAPPINGS_DIR``
            replaces the default); also the name of the local copy in ``QBPA_DATA_DIR/exports/``.
        description: What the file is for (the UI description).

    Returns:
        The asset, with the two file checks and :data:`NIGHTLY_FRESHNESS`.
    """

    @dg.asset(
        key=key,
        deps=[staged],
        group_name="inventiv_ftp",
        kinds={"sftp", "file"},
        pool="duckdb",
        check_specs=fil_checks(key),
        freshness_policy=NIGHTLY_FRESHNESS,
        description=description,
    )
    def _full_fil(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        inventiv_ftp: InventivFtpResource,
        qbpa: QbpaSettings,
    ) -> dg.MaterializeResult:
        layout = load_layout(layout_name, qbpa.mappings_path)
        local_path = warehouse.exports_dir / layout_name
        return export_fil(context, layout, local_path, warehouse, inventiv_ftp)

    return _full_fil
