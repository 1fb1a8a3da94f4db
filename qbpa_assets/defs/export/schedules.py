"""The nightly jobs and their schedules (in ``QBPA_TIMEZONE``)."""

import dagster as dg

from qbpa_assets.defs.partitions import TIMEZONE, invoice_daily_partitions

MASTER_DATA = dg.AssetSelection.assets(
    ["quickbooks", "customers"],
    ["quickbooks", "items"],
    ["staging", "customers"],
    ["staging", "items"],
    ["inventiv_ftp", "customer_fil"],
    ["inventiv_ftp", "item_fil"],
)

INVOICES = dg.AssetSelection.assets(
    ["quickbooks", "invoices"], ["staging", "invoice_lines"], ["inventiv_ftp", "invoice_fil"]
)

nightly_master_data_job = dg.define_asset_job(
    name="nightly_master_data_job",
    selection=MASTER_DATA,
    description=(
        "All QuickBooks customers and items → customer.fil and item.fil on the Inventiv FTP."
    ),
)

nightly_invoice_job = dg.define_asset_job(
    name="nightly_invoice_job",
    selection=INVOICES,
    partitions_def=invoice_daily_partitions,
    description="Invoices changed in a day (with lines) → invoice.fil on the Inventiv FTP.",
)

nightly_master_data_schedule = dg.ScheduleDefinition(
    name="nightly_master_data_schedule",
    job=nightly_master_data_job,
    cron_schedule="0 2 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:00 every night: the full master-data export.",
)

# Yesterday's partition, shortly after the day closed and after the master data.
nightly_invoice_schedule = dg.build_schedule_from_partitioned_job(
    nightly_invoice_job,
    name="nightly_invoice_schedule",
    hour_of_day=2,
    minute_of_hour=30,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:30 every night: yesterday's invoices.",
)
