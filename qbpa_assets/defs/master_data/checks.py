"""Data-quality rules on the staged master data: ids are unique (blocking the export)."""

import dagster as dg

from qbpa_assets.defs import keys
from qbpa_assets.defs.resources.warehouse import WarehouseResource
from qbpa_assets.lib.markdown import markdown_table


def duplicate_ids(warehouse: WarehouseResource, table: str) -> dg.AssetCheckResult:
    """Pass when every ``id`` of ``table`` appears once; list the first repeated ones."""
    with warehouse.get_connection() as con:
        dupes = con.execute(
            f"SELECT id, count(*) AS n FROM {table} GROUP BY id HAVING n > 1 ORDER BY n DESC, id"
        ).fetchall()
    return dg.AssetCheckResult(
        passed=not dupes,
        metadata={
            "duplicate_ids": len(dupes),
            "examples": dg.MetadataValue.md(markdown_table(["id", "rows"], dupes[:20])),
        },
    )


def unique_ids_check(asset: dg.AssetKey, name: str, description: str) -> dg.AssetChecksDefinition:
    """The blocking check that every ``id`` of the staged table ``asset`` appears once.

    Args:
        asset: The staged table's asset key (``keys.STAGING_CUSTOMERS``, …).
        name: The check's name (``unique_customer_ids``, …).
        description: What a repeated id would break (the UI description).

    Returns:
        The check: it blocks the export when an id repeats (:func:`duplicate_ids`).
    """

    @dg.asset_check(asset=asset, name=name, blocking=True, pool="duckdb", description=description)
    def _unique_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return duplicate_ids(warehouse, keys.table_name(asset))

    return _unique_ids


unique_customer_ids = unique_ids_check(
    keys.STAGING_CUSTOMERS,
    "unique_customer_ids",
    "Each QuickBooks customer id appears once: a duplicate would split a customer.",
)
unique_item_ids = unique_ids_check(
    keys.STAGING_ITEMS, "unique_item_ids", "Each QuickBooks item id appears once."
)
