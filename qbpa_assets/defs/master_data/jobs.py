"""The nightly master-data job and its schedule (02:00 in ``QBPA_TIMEZONE``)."""

import dagster as dg

from qbpa_assets.defs import keys
from qbpa_assets.defs.partitions import TIMEZONE

# Every asset of the flow, raw → staged → file; a new master-data entity adds its three keys.
MASTER_DATA_KEYS = [
    keys.QBO_CUSTOMERS,
    keys.QBO_ITEMS,
    keys.STAGING_CUSTOMERS,
    keys.STAGING_ITEMS,
    keys.CUSTOMER_FIL,
    keys.ITEM_FIL,
    keys.QBO_VENDORS,
    keys.STAGING_VENDORS,
    keys.VENDOR_FIL,
    keys.QBO_EMPLOYEES,
    keys.STAGING_SALES_REPS,
    keys.SALESREP_FIL,
]

nightly_master_data_job = dg.define_asset_job(
    name="nightly_master_data_job",
    selection=dg.AssetSelection.assets(*MASTER_DATA_KEYS),
    description=(
        "All QuickBooks customers, items, vendors and sales reps → customer.fil, item.fil, "
        "vendor.fil and salesrep.fil on the Inventiv FTP."
    ),
)

nightly_master_data_schedule = dg.ScheduleDefinition(
    name="nightly_master_data_schedule",
    job=nightly_master_data_job,
    cron_schedule="0 2 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:00 every night: the full master-data export.",
)
