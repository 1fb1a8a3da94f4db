"""Vendors: raw QuickBooks JSON → ``staging/vendors`` → ``vendor.fil`` (nightly, full)."""

from qbpa_assets.defs import keys
from qbpa_assets.defs.inventiv_ftp import full_fil_asset
from qbpa_assets.defs.master_data.assets import raw_list_asset, staged_table_asset
from qbpa_assets.defs.master_data.checks import unique_ids_check
from qbpa_assets.lib.master_data import vendors

quickbooks_vendors = raw_list_asset(
    keys.QBO_VENDORS,
    "Vendor",
    """Every QuickBooks Vendor, active and inactive, as QuickBooks sent it.

    Grain: one row per vendor (id, sync token, last updated, active, JSON payload), replaced as
    a whole each night in one transaction.
    """,
)

staging_vendors = staged_table_asset(
    keys.STAGING_VENDORS,
    keys.QBO_VENDORS,
    vendors.refresh_vendors,
    """Vendors typed and flattened: one row per QuickBooks vendor, active and inactive.

    Display and company name, the contact's names, e-mail and phones, bill address parts, the
    account number the vendor gives the company, terms, currency, balance, the 1099 flag and
    active. The source of ``vendor.fil``.
    """,
)

unique_vendor_ids = unique_ids_check(
    keys.STAGING_VENDORS, "unique_vendor_ids", "Each QuickBooks vendor id appears once."
)


vendor_fil = full_fil_asset(
    keys.VENDOR_FIL,
    keys.STAGING_VENDORS,
    "vendor.fil",
    """``vendor.fil`` in ``latest<account_id>/`` on the Inventiv FTP: the company's vendors.

    Tab-delimited, one vendor per line, columns from the ``vendor.fil`` layout (a mapping file).
    Atomic upload as for ``customer.fil``; a local copy stays in ``QBPA_DATA_DIR/exports/``.
    """,
)
