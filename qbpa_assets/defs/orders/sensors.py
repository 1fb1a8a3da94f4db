"""The new-order sensor: PocketAdvantage orders reach QuickBooks within a minute."""

import json
import os
from collections import defaultdict
from datetime import date, datetime

import dagster as dg

from qbpa_assets.defs.orders.assets import sales_order_import_job
from qbpa_assets.defs.partitions import order_daily_partitions
from qbpa_assets.resources.inventiv_db import InventivDbResource

SENSOR_INTERVAL_SECONDS = int(os.environ.get("QBPA_ORDER_SENSOR_INTERVAL", "60"))
MAX_ORDERS_PER_TICK = 1000


def _load_cursor(raw: str | None) -> tuple[datetime | None, str | None]:
    if not raw:
        return None, None
    data = json.loads(raw)
    stamp = data.get("modified_at")
    return (datetime.fromisoformat(stamp) if stamp else None), data.get("order_id")


def _dump_cursor(modified_at: datetime, order_id: object) -> str:
    return json.dumps({"modified_at": modified_at.isoformat(), "order_id": str(order_id)})


def _valid_partition(day: date, context: dg.SensorEvaluationContext) -> bool:
    key = day.isoformat()
    # Only days the partitions definition knows: before QBPA_PARTITION_START, or dated in the
    # future (a device clock gone wrong), an order cannot be routed to a partition.
    keys = order_daily_partitions.get_partition_keys(
        dynamic_partitions_store=context.instance if context.instance_ref else None
    )
    return key in keys


@dg.sensor(
    name="inventiv_new_orders_sensor",
    job=sales_order_import_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Watches the Inventiv database for orders newer than its cursor (MODIFIED_AT, ORDER_ID) "
        "and launches sales_order_import_job for every day that has new or changed orders."
    ),
)
def inventiv_new_orders_sensor(
    context: dg.SensorEvaluationContext, inventiv_db: InventivDbResource
) -> dg.SensorResult | dg.SkipReason:
    """One RunRequest per affected order day; the run key carries the high-water mark."""
    after_modified, after_id = _load_cursor(context.cursor)
    try:
        with inventiv_db.get_db() as db:
            new = db.fetch_new_orders(after_modified, after_id, limit=MAX_ORDERS_PER_TICK)
    except Exception as exc:  # an outage must not turn into a crash loop of failed ticks
        return dg.SkipReason(f"Inventiv database unavailable: {type(exc).__name__}: {exc}")
    if not new:
        return dg.SkipReason("No new or changed orders since the last tick.")

    by_day: dict[date, list] = defaultdict(list)
    for order in new:
        by_day[order.order_date].append(order)
    last = new[-1]
    high_water = f"{last.modified_at.isoformat()}|{last.order_id}"
    run_requests = []
    skipped = []
    for day, day_orders in sorted(by_day.items()):
        if not _valid_partition(day, context):
            skipped.append(day.isoformat())
            continue
        run_requests.append(
            dg.RunRequest(
                run_key=f"orders:{day.isoformat()}:{high_water}",
                partition_key=day.isoformat(),
                tags={"qbpa/new_orders": str(len(day_orders)), "qbpa/high_water": high_water},
            )
        )
    if skipped:
        context.log.warning(f"Orders dated outside the partition range were skipped: {skipped}")
    return dg.SensorResult(
        run_requests=run_requests,
        cursor=_dump_cursor(last.modified_at, last.order_id),
        skip_reason=None if run_requests else "New orders, but none in a valid partition.",
    )
