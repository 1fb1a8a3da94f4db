"""Every asset key of the public contract, spelled once (DESIGN.md, "Public contract").

Assets, checks, jobs, schedules and sensors import their keys from here; a key is never written
as a string list anywhere else. The DuckDB table of a table asset is ``schema.table`` = the key.
"""

import dagster as dg

# Master data, nightly, full.
QBO_CUSTOMERS = dg.AssetKey(["quickbooks", "customers"])
QBO_ITEMS = dg.AssetKey(["quickbooks", "items"])
QBO_VENDORS = dg.AssetKey(["quickbooks", "vendors"])
QBO_EMPLOYEES = dg.AssetKey(["quickbooks", "employees"])
STAGING_CUSTOMERS = dg.AssetKey(["staging", "customers"])
STAGING_ITEMS = dg.AssetKey(["staging", "items"])
STAGING_VENDORS = dg.AssetKey(["staging", "vendors"])
STAGING_SALES_REPS = dg.AssetKey(["staging", "sales_reps"])
CUSTOMER_FIL = dg.AssetKey(["inventiv_ftp", "customer_fil"])
ITEM_FIL = dg.AssetKey(["inventiv_ftp", "item_fil"])
VENDOR_FIL = dg.AssetKey(["inventiv_ftp", "vendor_fil"])
SALESREP_FIL = dg.AssetKey(["inventiv_ftp", "salesrep_fil"])

# Invoices, nightly, daily partitions.
QBO_INVOICES = dg.AssetKey(["quickbooks", "invoices"])
STAGING_INVOICE_LINES = dg.AssetKey(["staging", "invoice_lines"])
INVOICE_FIL = dg.AssetKey(["inventiv_ftp", "invoice_fil"])

# Orders, continuously, daily partitions.
INVENTIV_ORDERS = dg.AssetKey(["inventiv_db", "orders"])
SALES_ORDERS = dg.AssetKey(["quickbooks", "sales_orders"])

# Order status back to PocketAdvantage, unpartitioned (issue 13).
SALES_ORDER_STATUS = dg.AssetKey(["quickbooks", "sales_order_status"])
ORDER_STATUS = dg.AssetKey(["inventiv_db", "order_status"])


def table_name(key: dg.AssetKey) -> str:
    """The DuckDB ``schema.table`` of a table asset: its key joined with a dot."""
    return ".".join(key.path)
