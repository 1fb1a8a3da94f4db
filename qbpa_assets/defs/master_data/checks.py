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


@dg.asset_check(
    asset=keys.STAGING_CUSTOMERS,
    name="unique_customer_ids",
    blocking=True,
    pool="duckdb",
    description="Each QuickBooks customer id appears once: a duplicate would split a customer.",
)
def unique_customer_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Block the export when a customer id repeats."""
    return duplicate_ids(warehouse, keys.table_name(keys.STAGING_CUSTOMERS))


@dg.asset_check(
    asset=keys.STAGING_ITEMS,
    name="unique_item_ids",
    blocking=True,
    pool="duckdb",
    description="Each QuickBooks item id appears once.",
)
def unique_item_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Block the export when an item id repeats."""
    return duplicate_ids(warehouse, keys.table_name(keys.STAGING_ITEMS))
