"""Customers and items: raw QuickBooks JSON → staged tables → ``customer.fil`` / ``item.fil``."""

from collections.abc import Callable

import dagster as dg
import duckdb

from qbpa_assets.defs import keys
from qbpa_assets.defs.inventiv_ftp import full_fil_asset
from qbpa_assets.defs.resources.quickbooks import QuickBooksResource
from qbpa_assets.defs.resources.warehouse import QbpaSettings, WarehouseResource
from qbpa_assets.lib.markdown import query_preview, table_preview
from qbpa_assets.lib.master_data import staging
from qbpa_assets.lib.warehouse import raw

# ----------------------------------------------------------------------------- raw

#: What every raw QuickBooks asset declares besides its key.
RAW_ASSET: dict = {"group_name": "quickbooks", "kinds": {"quickbooks", "duckdb"}, "pool": "duckdb"}


def land_list_entity(
    context: dg.AssetExecutionContext,
    entity: str,
    quickbooks: QuickBooksResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Extract every row of a QuickBooks list entity (active and inactive) into its raw table."""
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


def raw_list_asset(key: dg.AssetKey, entity: str, doc: str) -> dg.AssetsDefinition:
    """The raw asset of a QuickBooks list entity, landed whole by :func:`land_list_entity`.

    Args:
        key: The raw table's asset key (``keys.QBO_CUSTOMERS``, …).
        entity: The QuickBooks entity (``Customer``, ``Item``, ``Vendor``).
        doc: What the table holds (the UI description, as a docstring would give it).

    Returns:
        The asset, in the ``quickbooks`` group.
    """

    def _land(
        context: dg.AssetExecutionContext,
        quickbooks: QuickBooksResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        return land_list_entity(context, entity, quickbooks, warehouse)

    _land.__doc__ = doc
    return dg.asset(key=key, **RAW_ASSET)(_land)


quickbooks_customers = raw_list_asset(
    keys.QBO_CUSTOMERS,
    "Customer",
    """Every QuickBooks Customer, active and inactive, as QuickBooks sent it.

    Grain: one row per customer (id, sync token, last updated, active, JSON payload). The table is
    replaced as a whole each night in one transaction, so readers never see half an extract.
    """,
)

quickbooks_items = raw_list_asset(
    keys.QBO_ITEMS,
    "Item",
    """Every QuickBooks Item (products, services, categories), active and inactive.

    Grain: one row per item (id, sync token, last updated, active, JSON payload), replaced as a
    whole each night in one transaction.
    """,
)


# ----------------------------------------------------------------------------- staging

#: What every staged master-data asset declares besides its key and raw table.
STAGED_ASSET: dict = {"group_name": "staging", "kinds": {"duckdb"}, "pool": "duckdb"}


def staged_result(
    con: duckdb.DuckDBPyConnection, key: dg.AssetKey, rows: int, **metadata: object
) -> dg.MaterializeResult:
    """The result of a staged table just rebuilt: its row count, ``metadata``, a preview."""
    preview = table_preview(con, keys.table_name(key))
    return dg.MaterializeResult(
        metadata={"dagster/row_count": rows, **metadata, "preview": dg.MetadataValue.md(preview)}
    )


@dg.asset(key=keys.STAGING_CUSTOMERS, deps=[keys.QBO_CUSTOMERS], **STAGED_ASSET)
def staging_customers(warehouse: WarehouseResource, qbpa: QbpaSettings) -> dg.MaterializeResult:
    """Customers typed and flattened: one row per QuickBooks customer, active and inactive.

    Names, company, contact, bill/ship address parts, phone, e-mail, terms, balance, taxable,
    active, the parent of a sub-customer, and the usual sales rep (from the landed invoices, for
    a custom-field or class rep source). The source of ``customer.fil`` and of the order
    validation (an order must name an active customer).
    """
    with warehouse.get_connection() as con:
        rows = staging.refresh_customers(con, qbpa.rep_source)
        return staged_result(con, keys.STAGING_CUSTOMERS, rows)


def staged_table_asset(
    key: dg.AssetKey,
    raw_key: dg.AssetKey,
    refresh: Callable[[duckdb.DuckDBPyConnection], int],
    doc: str,
) -> dg.AssetsDefinition:
    """The asset of a staged table rebuilt whole from its raw table by ``refresh``.

    Args:
        key: The staged table's asset key (``keys.STAGING_ITEMS``, …).
        raw_key: The raw table it is staged from.
        refresh: Rebuilds the table on a DuckDB connection; returns its row count.
        doc: What the table holds (the UI description, as a docstring would give it).

    Returns:
        The asset, in the ``staging`` group, with the row count and a preview as metadata.
    """

    def _stage(warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.get_connection() as con:
            return staged_result(con, key, refresh(con))

    _stage.__doc__ = doc
    return dg.asset(key=key, deps=[raw_key], **STAGED_ASSET)(_stage)


staging_items = staged_table_asset(
    keys.STAGING_ITEMS,
    keys.QBO_ITEMS,
    staging.refresh_items,
    """Items typed and flattened: one row per QuickBooks item, active and inactive.

    Name, SKU, description, type, unit price, purchase cost, quantity on hand, taxable, active.
    The source of ``item.fil`` and of the order validation (order lines must name active items).
    """,
)


# ----------------------------------------------------------------------------- .fil files


customer_fil = full_fil_asset(
    keys.CUSTOMER_FIL,
    keys.STAGING_CUSTOMERS,
    "customer.fil",
    """``customer.fil`` in ``latest<account_id>/`` on the Inventiv FTP: the rep's customer list.

    Tab-delimited, one customer per line, columns from the ``customer.fil`` layout (a mapping
    file). Written to a temporary name and renamed over yesterday's file, so PocketAdvantage never
    reads a half-written file; a local copy stays in ``QBPA_DATA_DIR/exports/``.
    """,
)

item_fil = full_fil_asset(
    keys.ITEM_FIL,
    keys.STAGING_ITEMS,
    "item.fil",
    """``item.fil`` in ``latest<account_id>/`` on the Inventiv FTP: the rep's product catalogue.

    Tab-delimited, one item per line, columns from the ``item.fil`` layout. Atomic upload as for
    ``customer.fil``; a local copy stays in ``QBPA_DATA_DIR/exports/``.
    """,
)
