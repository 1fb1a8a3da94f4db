"""Master-data staging SQL: customers and items, typed and flattened from the raw JSON.

* ``staging.customers`` — one row per customer (active and inactive), jobs (sub-customers)
  included, from ``quickbooks.customers``; ``usual_rep_id`` is the sales rep on most of the
  customer's landed invoices, where the rep source allows it (:mod:`.sales_reps`).
* ``staging.items`` — one row per item of every type (Inventory, Service, NonInventory, Group,
  Category), from ``quickbooks.items``, with the preferred vendor (``PrefVendorRef``).

Each table is rebuilt whole from its raw table (``CREATE OR REPLACE``), so a re-run gives the
same rows. How the JSON is parsed and numbers kept as sent:
:mod:`qbpa_assets.lib.warehouse.flatten`.
"""

from __future__ import annotations

import logging
from typing import Any

import duckdb

from qbpa_assets.lib.master_data import sales_reps
from qbpa_assets.lib.master_data.rep_source import RepSource
from qbpa_assets.lib.warehouse.flatten import ADDR, META, REF, V, address, number, shape
from qbpa_assets.lib.warehouse.tables import count_rows, ensure_schema

logger = logging.getLogger(__name__)

# Numbers are read as VARCHAR so that the text QuickBooks sent survives (see flatten).
CUSTOMER_SHAPE: dict[str, Any] = {
    "Id": V,
    "SyncToken": V,
    "DisplayName": V,
    "Title": V,
    "GivenName": V,
    "MiddleName": V,
    "FamilyName": V,
    "Suffix": V,
    "CompanyName": V,
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
    "PrimaryEmailAddr": {"Address": V},
    "PrimaryPhone": {"FreeFormNumber": V},
    "Mobile": {"FreeFormNumber": V},
    "Fax": {"FreeFormNumber": V},
    "AlternatePhone": {"FreeFormNumber": V},
    "WebAddr": {"URI": V},
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

CUSTOMERS_SQL = f"""
CREATE OR REPLACE TABLE staging.customers AS
WITH src AS (
  SELECT r.id, r.sync_token, r.last_updated, r.active, r.payload,
         json_transform(r.payload, {shape(CUSTOMER_SHAPE)}) AS c
  FROM quickbooks.customers AS r
)
SELECT
    CAST(id AS VARCHAR) AS id,
    coalesce(c.SyncToken, sync_token) AS sync_token,
    c.DisplayName AS display_name,
    c.CompanyName AS company_name,
    c.Title AS title,
    c.GivenName AS given_name,
    c.MiddleName AS middle_name,
    c.FamilyName AS family_name,
    c.Suffix AS suffix,
    c.FullyQualifiedName AS fully_qualified_name,
    c.PrintOnCheckName AS print_on_check_name,
    CAST(coalesce(active, c.Active, true) AS BOOLEAN) AS active,
    coalesce(c.Job, false) AS is_job,
    c.ParentRef.value AS parent_id,
    c.ParentRef.name AS parent_name,
    coalesce(c.Level, 0) AS level,
    c.BillWithParent AS bill_with_parent,
    c.Taxable AS taxable,
    {number("c.Balance", "balance")},
    {number("c.BalanceWithJobs", "balance_with_jobs")},
    c.CurrencyRef.value AS currency,
    c.SalesTermRef.value AS sales_term_id,
    c.SalesTermRef.name AS sales_term_name,
    CAST(NULL AS VARCHAR) AS usual_rep_id,  -- filled by sales_reps.fill_usual_reps
    c.PaymentMethodRef.value AS payment_method_id,
    c.CustomerTypeRef.value AS customer_type_id,
    c.DefaultTaxCodeRef.value AS tax_code_id,
    c.PreferredDeliveryMethod AS preferred_delivery_method,
    c.ResaleNum AS resale_num,
    c.PrimaryEmailAddr.Address AS email,
    c.PrimaryPhone.FreeFormNumber AS phone,
    c.Mobile.FreeFormNumber AS mobile,
    c.Fax.FreeFormNumber AS fax,
    c.AlternatePhone.FreeFormNumber AS alternate_phone,
    c.WebAddr.URI AS website,
    {address("bill", "c.BillAddr")},
    {address("ship", "c.ShipAddr")},
    c.Notes AS notes,
    c.MetaData.CreateTime AS created_at,
    coalesce(last_updated, c.MetaData.LastUpdatedTime) AS last_updated,
    payload
FROM src
ORDER BY TRY_CAST(id AS BIGINT) NULLS LAST, id
"""

ITEMS_SQL = f"""
CREATE OR REPLACE TABLE staging.items AS
WITH src AS (
  SELECT r.id, r.sync_token, r.last_updated, r.active, r.payload,
         json_transform(r.payload, {shape(ITEM_SHAPE)}) AS i
  FROM quickbooks.items AS r
)
SELECT
    CAST(id AS VARCHAR) AS id,
    coalesce(i.SyncToken, sync_token) AS sync_token,
    i.Name AS name,
    i.FullyQualifiedName AS fully_qualified_name,
    i.Sku AS sku,
    i.Type AS type,
    CAST(coalesce(active, i.Active, true) AS BOOLEAN) AS active,
    i.Description AS description,
    i.PurchaseDesc AS purchase_description,
    {number("i.UnitPrice", "unit_price")},
    {number("i.PurchaseCost", "purchase_cost")},
    i.PrefVendorRef.value AS pref_vendor_id,
    i.PrefVendorRef.name AS pref_vendor_name,
    i.Taxable AS taxable,
    i.SalesTaxIncluded AS sales_tax_included,
    i.SalesTaxCodeRef.value AS sales_tax_code_id,
    i.TrackQtyOnHand AS track_qty_on_hand,
    {number("i.QtyOnHand", "qty_on_hand")},
    i.InvStartDate AS inv_start_date,
    coalesce(i.SubItem, false) AS sub_item,
    i.ParentRef.value AS parent_id,
    i.ParentRef.name AS parent_name,
    coalesce(i.Level, 0) AS level,
    i.IncomeAccountRef.value AS income_account_id,
    i.ExpenseAccountRef.value AS expense_account_id,
    i.AssetAccountRef.value AS asset_account_id,
    i.MetaData.CreateTime AS created_at,
    coalesce(last_updated, i.MetaData.LastUpdatedTime) AS last_updated,
    payload
FROM src
ORDER BY TRY_CAST(id AS BIGINT) NULLS LAST, id
"""


def _rebuild(con: duckdb.DuckDBPyConnection, sql: str, table: str) -> int:
    ensure_schema(con, "staging")
    con.execute(sql)
    rows = count_rows(con, table)
    logger.info("%s: %d rows", table, rows)
    return rows


def refresh_customers(con: duckdb.DuckDBPyConnection, rep_source: RepSource | None = None) -> int:
    """Rebuild ``staging.customers`` from ``quickbooks.customers``.

    Args:
        con: DuckDB connection holding the raw table.
        rep_source: Where sales reps come from (``usual_rep_id``); default Employees, which
            leaves it NULL.

    Returns:
        Number of staged rows.
    """
    rows = _rebuild(con, CUSTOMERS_SQL, "staging.customers")
    sales_reps.fill_usual_reps(con, rep_source or RepSource("employee"))
    return rows


def refresh_items(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``staging.items`` from ``quickbooks.items``.

    Args:
        con: DuckDB connection holding the raw table.

    Returns:
        Number of staged rows.
    """
    return _rebuild(con, ITEMS_SQL, "staging.items")
