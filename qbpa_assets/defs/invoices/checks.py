"""Data-quality rules on the staged invoice lines: references to known customers and items."""

import dagster as dg

from qbpa_assets.defs import keys
from qbpa_assets.defs.resources.warehouse import WarehouseResource
from qbpa_assets.lib.markdown import markdown_table
from qbpa_assets.lib.warehouse.tables import existing_tables


@dg.asset_check(
    asset=keys.STAGING_INVOICE_LINES,
    name="invoice_lines_reference_known_customers_and_items",
    pool="duckdb",
    additional_deps=[keys.STAGING_CUSTOMERS, keys.STAGING_ITEMS],
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
        if not {"invoice_lines_stored", "customers_stored", "items"} <= existing_tables(con):
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
            FROM staging.invoice_lines_stored l  -- the persisted columns: no JSON parsed
            LEFT JOIN staging.customers_stored c ON c.id = l.customer_id
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
