"""Master-data staging SQL: customers and items, typed and flattened from the raw JSON.

* ``staging.customers`` — one row per customer (active and inactive), jobs (sub-customers)
  included, from ``quickbooks.customers``; ``usual_rep_id`` is the sales rep on most of the
  customer's landed invoices, where the rep source allows it (:mod:`.sales_reps`).
* ``staging.items`` — one row per item of every type (Inventory, Service, NonInventory, Group,
  Category), from ``quickbooks.items``, with the preferred vendor (``PrefVendorRef``).

Each table is rebuilt whole from its raw table (``CREATE OR REPLACE``), so a re-run gives the
same rows. Customers are stored narrow: ``staging.customers_stored`` persists only the columns
the default customer.fil layout, the order validation, the invoice check and the usual-rep fill
read (`CUSTOMER_STORED_COLUMNS`, unsorted, no payload); ``staging.customers`` is a view with
every column (the others computed from the raw rows on demand), ordered by numeric id. How
the JSON is parsed and numbers kept as sent: :mod:`qbpa_assets.lib.warehouse.flatten`.
"""

from __future__ import annotations

from typing import Any

import duckdb

from qbpa_assets.lib.master_data import list_sql, sales_reps
from qbpa_assets.lib.master_data.rep_source import RepSource
from qbpa_assets.lib.warehouse.flatten import ADDR, META, REF, V, address, number

# Numbers are read as VARCHAR so that the text QuickBooks sent survives (see flatten).
CUSTOMER_SHAPE: dict[str, Any] = {
    "Id": V,
    "SyncToken": V,
    **list_sql.NAME_SHAPE,
    "FullyQualifiedName": V,
    "PrintOnCheckName": V,
    "Active": "BOOLEAN",
    "Job": "BOOLEAN",
    "BillWithParent": "BOOLEAN",
    "ParentRef": REF,
    "Level": "INTEGER",
    "Taxable": "BOOLEAN",
    "Balance": V,
    "BalanceWithJobs": V,
    "CurrencyRef": REF,
    "SalesTermRef": REF,
    "PaymentMethodRef": REF,
    "CustomerTypeRef": REF,
    "DefaultTaxCodeRef": REF,
    "PreferredDeliveryMethod": V,
    "ResaleNum": V,
    "Notes": V,
    **list_sql.CONTACT_SHAPE,
    "BillAddr": ADDR,
    "ShipAddr": ADDR,
    "MetaData": META,
}

ITEM_SHAPE: dict[str, Any] = {
    "Id": V,
    "SyncToken": V,
    "Name": V,
    "Sku": V,
    "Description": V,
    "PurchaseDesc": V,
    "Active": "BOOLEAN",
    "SubItem": "BOOLEAN",
    "ParentRef": REF,
    "Level": "INTEGER",
    "FullyQualifiedName": V,
    "Taxable": "BOOLEAN",
    "SalesTaxIncluded": "BOOLEAN",
    "UnitPrice": V,
    "PurchaseCost": V,
    "PrefVendorRef": REF,
    "Type": V,
    "TrackQtyOnHand": "BOOLEAN",
    "QtyOnHand": V,
    "InvStartDate": "DATE",
    "IncomeAccountRef": REF,
    "ExpenseAccountRef": REF,
    "AssetAccountRef": REF,
    "SalesTaxCodeRef": REF,
    "MetaData": META,
}

_CUSTOMER_COLUMNS = [
    list_sql.name_columns("c"),
    "c.FullyQualifiedName AS fully_qualified_name",
    "c.PrintOnCheckName AS print_on_check_name",
    list_sql.active_column("c"),
    "coalesce(c.Job, false) AS is_job",
    "c.ParentRef.value AS parent_id",
    "c.ParentRef.name AS parent_name",
    "coalesce(c.Level, 0) AS level",
    "c.BillWithParent AS bill_with_parent",
    "c.Taxable AS taxable",
    number("c.Balance", "balance"),
    number("c.BalanceWithJobs", "balance_with_jobs"),
    "c.CurrencyRef.value AS currency",
    "c.SalesTermRef.value AS sales_term_id",
    "c.SalesTermRef.name AS sales_term_name",
    "CAST(NULL AS VARCHAR) AS usual_rep_id",  # filled by sales_reps.fill_usual_reps
    "c.PaymentMethodRef.value AS payment_method_id",
    "c.CustomerTypeRef.value AS customer_type_id",
    "c.DefaultTaxCodeRef.value AS tax_code_id",
    "c.PreferredDeliveryMethod AS preferred_delivery_method",
    "c.ResaleNum AS resale_num",
    list_sql.contact_columns("c"),
    address("bill", "c.BillAddr"),
    address("ship", "c.ShipAddr"),
    "c.Notes AS notes",
]

#: The columns ``staging.customers_stored`` persists: those the default customer.fil layout,
#: the order validation, the invoice check and the usual-rep fill read.
CUSTOMER_STORED_COLUMNS = frozenset(
    {
        "id", "display_name", "company_name", "given_name", "family_name", "email", "phone",
        "mobile", "fax", "bill_line1", "bill_line2", "bill_city", "bill_state",
        "bill_postal_code", "bill_country", "ship_line1", "ship_line2", "ship_city",
        "ship_state", "ship_postal_code", "ship_country", "sales_term_name", "usual_rep_id",
        "taxable", "balance_text", "parent_id", "active", "last_updated",
    }
)  # fmt: skip
#: Only the keys the stored columns read.
CUSTOMER_STORED_SHAPE: dict[str, Any] = {
    "DisplayName": V,
    "CompanyName": V,
    "GivenName": V,
    "FamilyName": V,
    "Active": "BOOLEAN",
    "ParentRef": REF,
    "Taxable": "BOOLEAN",
    "Balance": V,
    "SalesTermRef": REF,
    "PrimaryEmailAddr": {"Address": V},
    **{f: {"FreeFormNumber": V} for f in ("PrimaryPhone", "Mobile", "Fax")},
    "BillAddr": ADDR,
    "ShipAddr": ADDR,
    "MetaData": META,
}
CUSTOMERS_STORED = "staging.customers_stored"
CUSTOMERS_VIEW = "staging.customers"

CUSTOMERS_SQL = list_sql.staging_sql(
    CUSTOMERS_STORED,
    "quickbooks.customers",
    CUSTOMER_STORED_SHAPE,
    "c",
    _CUSTOMER_COLUMNS,
    keep=CUSTOMER_STORED_COLUMNS,
)
# The view: the stored columns as staged, the others computed from the raw rows on demand.
CUSTOMERS_VIEW_SQL = list_sql.view_sql(
    CUSTOMERS_VIEW,
    CUSTOMERS_STORED,
    CUSTOMER_STORED_COLUMNS,
    list_sql.column_names(_CUSTOMER_COLUMNS),
    list_sql.select_sql(
        "quickbooks.customers", CUSTOMER_SHAPE, "c", _CUSTOMER_COLUMNS, order=False
    ),
)

ITEMS_SQL = list_sql.staging_sql(
    "staging.items",
    "quickbooks.items",
    ITEM_SHAPE,
    "i",
    [
        "i.Name AS name",
        "i.FullyQualifiedName AS fully_qualified_name",
        "i.Sku AS sku",
        "i.Type AS type",
        list_sql.active_column("i"),
        "i.Description AS description",
        "i.PurchaseDesc AS purchase_description",
        number("i.UnitPrice", "unit_price"),
        number("i.PurchaseCost", "purchase_cost"),
        "i.PrefVendorRef.value AS pref_vendor_id",
        "i.PrefVendorRef.name AS pref_vendor_name",
        "i.Taxable AS taxable",
        "i.SalesTaxIncluded AS sales_tax_included",
        "i.SalesTaxCodeRef.value AS sales_tax_code_id",
        "i.TrackQtyOnHand AS track_qty_on_hand",
        number("i.QtyOnHand", "qty_on_hand"),
        "i.InvStartDate AS inv_start_date",
        "coalesce(i.SubItem, false) AS sub_item",
        "i.ParentRef.value AS parent_id",
        "i.ParentRef.name AS parent_name",
        "coalesce(i.Level, 0) AS level",
        "i.IncomeAccountRef.value AS income_account_id",
        "i.ExpenseAccountRef.value AS expense_account_id",
        "i.AssetAccountRef.value AS asset_account_id",
    ],
)


def refresh_customers(con: duckdb.DuckDBPyConnection, rep_source: RepSource | None = None) -> int:
    """Rebuild ``staging.customers`` from ``quickbooks.customers``.

    Args:
        con: DuckDB connection holding the raw table.
        rep_source: Where sales reps come from (``usual_rep_id``); default Employees, which
            leaves it NULL.

    Returns:
        Number of staged rows.
    """
    rows = list_sql.rebuild(con, CUSTOMERS_SQL, CUSTOMERS_STORED, label=CUSTOMERS_VIEW)
    sales_reps.fill_usual_reps(con, rep_source or RepSource("employee"))
    list_sql.drop_table(con, CUSTOMERS_VIEW)  # staged as one table by an earlier release
    con.execute(CUSTOMERS_VIEW_SQL)
    return rows


def refresh_items(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``staging.items`` from ``quickbooks.items``.

    Args:
        con: DuckDB connection holding the raw table.

    Returns:
        Number of staged rows.
    """
    return list_sql.rebuild(con, ITEMS_SQL, "staging.items")
