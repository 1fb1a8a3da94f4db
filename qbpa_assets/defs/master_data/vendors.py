"""Vendors: raw QuickBooks JSON → ``staging/vendors`` → ``vendor.fil`` (nightly, full)."""

import dagster as dg

from qbpa_assets.defs import keys
from qbpa_assets.defs.inventiv_ftp import full_fil_asset
from qbpa_assets.defs.master_data.assets import land_list_entity
from qbpa_assets.defs.master_data.checks import duplicate_ids
from qbpa_assets.defs.resources.quickbooks import QuickBooksResource
from qbpa_assets.defs.resources.warehouse import WarehouseResource
from qbpa_assets.lib.markdown import table_preview
from qbpa_assets.lib.master_data import vendors


@dg.asset(
    key=keys.QBO_VENDORS,
    group_name="quickbooks",
    kinds={"quickbooks", "duckdb"},
    pool="duckdb",
)
def quickbooks_vendors(
    context: dg.AssetExecutionContext,
    quickbooks: QuickBooksResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Every QuickBooks Vendor, active and inactive, as QuickBooks sent it.

    Grain: one row per vendor (id, sync token, last updated, active, JSON payload), replaced as
    a whole each night in one transaction.
    """
    return land_list_entity(context, "Vendor", quickbooks, warehouse)


@dg.asset(
    key=keys.STAGING_VENDORS,
    deps=[keys.QBO_VENDORS],
    group_name="staging",
    kinds={"duckdb"},
    pool="duckdb",
)
def staging_vendors(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Vendors typed and flattened: one row per QuickBooks vendor, active and inactive.

    Display and company name, the contact's names, e-mail and phones, bill address parts, the
    account number the vendor gives the company, terms, currency, balance, the 1099 flag and
    active. The source of ``vendor.fil``.
    """
    with warehouse.get_connection() as con:
        rows = vendors.refresh_vendors(con)
        preview = table_preview(con, keys.table_name(keys.STAGING_VENDORS))
    return dg.MaterializeResult(
        metadata={"dagster/row_count": rows, "preview": dg.MetadataValue.md(preview)}
    )


@dg.asset_check(
    asset=keys.STAGING_VENDORS,
    name="unique_vendor_ids",
    blocking=True,
    pool="duckdb",
    description="Each QuickBooks vendor id appears once.",
)
def unique_vendor_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Block the export when a vendor id repeats."""
    return duplicate_ids(warehouse, keys.table_name(keys.STAGING_VENDORS))


vendor_fil = full_fil_asset(
    keys.VENDOR_FIL,
    keys.STAGING_VENDORS,
    "vendor.fil",
    """``vendor.fil`` in ``latest<account_id>/`` on the Inventiv FTP: the company's vendors.

    Tab-delimited, one vendor per line, columns from the ``vendor.fil`` layout (a mapping file).
    Atomic upload as for ``customer.fil``; a local copy stays in ``QBPA_DATA_DIR/exports/``.
    """,
)
