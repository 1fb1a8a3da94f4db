"""Staging of vendors: ``quickbooks.vendors`` (raw JSON) → ``staging.vendors`` (typed).

One row per QuickBooks Vendor, active and inactive: display and company name, the person's
names, contact (e-mail, phones, fax, web), bill address parts, the account number the vendor
gives the company (``AcctNum``), terms, currency, balance (DOUBLE plus the as-sent
``balance_text``), the 1099 flag and active. The vendor's tax identifier is deliberately not
staged: it is personal data PocketAdvantage has no use for.
"""

from __future__ import annotations

import logging
from typing import Any

import duckdb

from qbpa_assets.lib.warehouse.flatten import ADDR, META, REF, V, address, number, shape
from qbpa_assets.lib.warehouse.tables import count_rows, ensure_schema

logger = logging.getLogger(__name__)

TABLE = "staging.vendors"
RAW_TABLE = "quickbooks.vendors"

VENDOR_SHAPE: dict[str, Any] = {
    "Id": V,
    "SyncToken": V,
    "DisplayName": V,
    "CompanyName": V,
    "Title": V,
    "GivenName": V,
    "MiddleName": V,
    "FamilyName": V,
    "Suffix": V,
    "PrintOnCheckName": V,
    "Active": "BOOLEAN",
    "PrimaryEmailAddr": {"Address": V},
    "PrimaryPhone": {"FreeFormNumber": V},
    "Mobile": {"FreeFormNumber": V},
    "Fax": {"FreeFormNumber": V},
    "AlternatePhone": {"FreeFormNumber": V},
    "WebAddr": {"URI": V},
    "BillAddr": ADDR,
    "AcctNum": V,
    "TermRef": REF,
    "CurrencyRef": REF,
    "Balance": V,
    "Vendor1099": "BOOLEAN",
    "MetaData": META,
}

VENDORS_SQL = f"""
CREATE OR REPLACE TABLE {TABLE} AS
WITH src AS (
  SELECT r.id, r.sync_token, r.last_updated, r.active, r.payload,
         json_transform(r.payload, {shape(VENDOR_SHAPE)}) AS v
  FROM {RAW_TABLE} AS r
)
SELECT
    CAST(id AS VARCHAR) AS id,
    coalesce(v.SyncToken, sync_token) AS sync_token,
    v.DisplayName AS display_name,
    v.CompanyName AS company_name,
    v.Title AS title,
    v.GivenName AS given_name,
    v.MiddleName AS middle_name,
    v.FamilyName AS family_name,
    v.Suffix AS suffix,
    v.PrintOnCheckName AS print_on_check_name,
    v.PrimaryEmailAddr.Address AS email,
    v.PrimaryPhone.FreeFormNumber AS phone,
    v.Mobile.FreeFormNumber AS mobile,
    v.Fax.FreeFormNumber AS fax,
    v.AlternatePhone.FreeFormNumber AS alternate_phone,
    v.WebAddr.URI AS website,
    {address("bill", "v.BillAddr")},
    v.AcctNum AS account_number,
    v.TermRef.value AS term_id,
    v.TermRef.name AS term_name,
    v.CurrencyRef.value AS currency,
    {number("v.Balance", "balance")},
    coalesce(v.Vendor1099, false) AS vendor_1099,
    CAST(coalesce(active, v.Active, true) AS BOOLEAN) AS active,
    v.MetaData.CreateTime AS created_at,
    coalesce(last_updated, v.MetaData.LastUpdatedTime) AS last_updated,
    payload
FROM src
ORDER BY TRY_CAST(id AS BIGINT) NULLS LAST, id
"""


def refresh_vendors(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``staging.vendors`` from ``quickbooks.vendors``.

    Args:
        con: DuckDB connection holding the raw table.

    Returns:
        Number of staged rows.
    """
    ensure_schema(con, "staging")
    con.execute(VENDORS_SQL)
    rows = count_rows(con, TABLE)
    logger.info("%s: %d rows", TABLE, rows)
    return rows
