"""Data-quality rules on the staged tables."""

import dagster as dg

from qbpa_assets.defs.resources.warehouse import WarehouseResource
from qbpa_assets.lib.markdown import markdown_table
from qbpa_assets.lib.warehouse import staging


def _duplicate_ids(warehouse: WarehouseResource, table: str) -> dg.AssetCheckResult:
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
    asset=dg.AssetKey(["staging", "customers"]),
    name="unique_customer_ids",
    blocking=True,
    pool="duckdb",
    description="Each QuickBooks customer id appears once: a duplicate would split a customer.",
)
def unique_customer_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Block the export when a customer id repeats."""
    return _duplicate_ids(warehouse, "staging.customers")


@dg.asset_check(
    asset=dg.AssetKey(["staging", "items"]),
    name="unique_item_ids",
    blocking=True,
    pool="duckdb",
    description="Each QuickBooks item id appears once.",
)
def unique_item_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Block the export when an item id repeats."""
    return _duplicate_ids(warehouse, "staging.items")


@dg.asset_check(
    asset=dg.AssetKey(["staging", "invoice_lines"]),
    name="invoice_lines_reference_known_customers_and_items",
    pool="duckdb",
    additional_deps=[dg.AssetKey(["staging", "customers"]), dg.AssetKey(["staging", "items"])],
    description=(
        "Invoice lines whose customer or item is not in the staged master data (a warning: "
        "PocketAdvantage shows such lines without a name)."
    ),
)
def invoice_lines_reference_known_customers_and_items(
    warehouse: WarehouseResource,
) -> dg.AssetCheckResult:
    """Warn about invoice lines that point at customers or items the export does not know."""
    with warehouse.get_connection() as con:
        if not {"invoice_lines", "customers", "items"} <= staging.existing_tables(con):
            return dg.AssetCheckResult(
                passed=True,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"skipped": "staged master data not built yet"},
            )
        unknown = con.execute(
            """
            SELECT l.invoice_id, l.doc_number, l.customer_id, l.item_id,
                   c.id IS NULL AS unknown_customer,
                   l.item_id IS NOT NULL AND i.id IS NULL AS unknown_item
            FROM staging.invoice_lines l
            LEFT JOIN staging.customers c ON c.id = l.customer_id
            LEFT JOIN staging.items i ON i.id = l.item_id
            WHERE l.status IS DISTINCT FROM 'Deleted'  -- a deletion row carries no references
              AND (c.id IS NULL OR (l.item_id IS NOT NULL AND i.id IS NULL))
            ORDER BY l.invoice_id
            """
        ).fetchall()
    return dg.AssetCheckResult(
        passed=not unknown,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "lines_with_unknown_refs": len(unknown),
            "examples": dg.MetadataValue.md(
                markdown_table(
                    ["invoice", "doc", "customer", "item", "unknown customer", "unknown item"],
                    unknown[:20],
                )
            ),
        },
    )
