"""The nightly invoice job and its schedule: yesterday's partition at 02:30 (``QBPA_TIMEZONE``)."""

from datetime import time

import dagster as dg

from qbpa_assets.defs import keys
from qbpa_assets.defs.partitions import invoice_daily_partitions

# When the nightly run starts; also the pick-up boundary of invoice.fil (lib/invoices/coverage).
NIGHTLY_AT = time(2, 30)

INVOICE_KEYS = [keys.QBO_INVOICES, keys.STAGING_INVOICE_LINES, keys.INVOICE_FIL]

nightly_invoice_job = dg.define_asset_job(
    name="nightly_invoice_job",
    selection=dg.AssetSelection.assets(*INVOICE_KEYS),
    partitions_def=invoice_daily_partitions,
    description="Invoices changed in a day (with lines) → invoice.fil on the Inventiv FTP.",
)

# Yesterday's partition, shortly after the day closed and after the master data.
nightly_invoice_schedule = dg.build_schedule_from_partitioned_job(
    nightly_invoice_job,
    name="nightly_invoice_schedule",
    hour_of_day=NIGHTLY_AT.hour,
    minute_of_hour=NIGHTLY_AT.minute,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:30 every night: yesterday's invoices.",
)
