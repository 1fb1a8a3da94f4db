"""Named partitions, in one place.

Daily windows are computed in ``QBPA_TIMEZONE`` (default UTC) from ``QBPA_PARTITION_START``
(default 2026-01-01). Invoices close with the day (yesterday is the newest partition); orders are
taken while the day is still going, so today is a valid order partition.

Both values are read at import, so a bad one must not raise here (it would take the whole code
location down): the declared default is used instead, the warehouse resource fails every run
naming the variable (``WarehouseResource.setup_for_execution``), and ``qbpa check`` reports it.
"""

import dagster as dg

from qbpa_assets import config

PARTITION_START = str(config.value_or_default("QBPA_PARTITION_START"))
TIMEZONE = str(config.value_or_default("QBPA_TIMEZONE"))

invoice_daily_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITION_START, timezone=TIMEZONE
)

order_daily_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITION_START, timezone=TIMEZONE, end_offset=1
)
