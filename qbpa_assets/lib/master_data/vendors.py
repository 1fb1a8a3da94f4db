"""Staging of vendors: ``quickbooks.vendors`` (raw JSON) → ``staging.vendors`` (typed).

One row per QuickBooks Vendor, active and inactive: display and company name, the person's
names, contact (e-mail, phones, fax, web), bill address parts, the account number the vendor
gives the company (``AcctNum``), terms, currency, balance (DOUBLE plus the as-sent
``balance_text``), the 1099 flag and active. The vendor's tax identifier is deliberately not
staged: it is personal data PocketAdvantage has no use for.
"""

from __future__ import annotations

from typing import Any

import duckdb

from qbpa_assets.lib.master_data import list_sql
from qbpa_assets.lib.warehouse.flatten import ADDR, META, REF, V, address, number

TABLE = "staging.vendors"
RAW_TABLE = "quickbooks.vendors"

VENDOR_SHAPE: dict[str, Any] = {
    "Id": V,
    "SyncToken": V,
    **list_sql.NAME_SHAPE,
    "PrintOnCheckName": V,
    "Active": "BOOLEAN",
    **list_sql.CONTACT_SHAPE,
    "BillAddr": ADDR,
    "AcctNum": V,
    "TermRef": REF,
    "CurrencyRef": REF,
    "Balance": V,
    "Vendor1099": "BOOLEAN",
    "MetaData": META,
}

VENDORS_SQL = list_sql.staging_sql(
    TABLE,
    RAW_TABLE,
    VENDOR_SHAPE,
    "v",
    [
        list_sql.name_columns("v"),
        "v.PrintOnCheckName AS print_on_check_name",
        list_sql.contact_columns("v"),
        address("bill", "v.BillAddr"),
        "v.AcctNum AS account_number",
        "v.TermRef.value AS term_id",
        "v.TermRef.name AS term_name",
        "v.CurrencyRef.value AS currency",
        number("v.Balance", "balance"),
        "coalesce(v.Vendor1099, false) AS vendor_1099",
        list_sql.active_column("v"),
    ],
)


def refresh_vendors(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``staging.vendors`` from ``quickbooks.vendors``.

    Args:
        con: DuckDB connection holding the raw table.

    Returns:
        Number of staged rows.
    """
    return list_sql.rebuild(con, VENDORS_SQL, TABLE)
