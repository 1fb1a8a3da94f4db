"""Named partitions, in one place.

Daily windows are computed in ``QBPA_TIMEZONE`` (default UTC) from ``QBPA_PARTITION_START``
(default 2026-01-01). Invoices close with the day (yesterday is the newest partition); orders are
taken while the day is still going, so today is a valid order partition.
"""

import os

import dagster as dg

PARTITION_START = os.environ.get("QBPA_PARTITION_START", "2026-01-01")
TIMEZONE = os.environ.get("QBPA_TIMEZONE", "UTC")

invoice_daily_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITION_START, timezone=TIMEZONE
)

order_daily_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITION_START, timezone=TIMEZONE, end_offset=1
)
