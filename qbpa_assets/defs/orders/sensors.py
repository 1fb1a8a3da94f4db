"""The new-order sensor: PocketAdvantage orders reach QuickBooks within a minute."""

import json
import os
import time
from collections import defaultdict
from datetime import date, datetime

import dagster as dg

from qbpa_assets.defs.orders.assets import sales_order_import_job
from qbpa_assets.defs.partitions import order_daily_partitions
from qbpa_assets.defs.resources.inventiv_db import InventivDbResource
from qbpa_assets.lib.orders.new_orders import fetch_new_orders

SENSOR_INTERVAL_SECONDS = int(os.environ.get("QBPA_ORDER_SENSOR_INTERVAL", "60"))
MAX_ORDERS_PER_TICK = 1000
RUN_KEY_TAG = "dagster/run_key"
# A day whose import run failed is asked for again: at once, then after 2, 4, 8 … minutes, at
# most hourly, until a run of that day succeeds. The cursor has already moved past its orders,
# so without this a failed run (QuickBooks down, master data not built yet) would strand them.
FIRST_RETRY_DELAY_SECONDS = 120
MAX_RETRY_DELAY_SECONDS = 3600
FAILED = {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


class _Cursor:
    """JSON cursor: the high-water mark (MODIFIED_AT, ORDER_ID) and the days awaiting success."""

    def __init__(self, raw: str | None):
        data = json.loads(raw) if raw else {}
        stamp = data.get("modified_at")
        self.modified_at: datetime | None = datetime.fromisoformat(stamp) if stamp else None
        self.order_id: str | None = data.get("order_id")
        # day -> {"run_key": str, "attempt": int, "not_before": epoch seconds}
        self.pending: dict[str, dict] = data.get("pending", {})

    def dump(self) -> str:
        return json.dumps(
            {
                "modified_at": self.modified_at.isoformat() if self.modified_at else None,
                "order_id": self.order_id,
                "pending": self.pending,
            },
            sort_keys=True,
        )


def _partition_keys() -> set[str]:
    return set(order_daily_partitions.get_partition_keys())


def _run_status(instance: dg.DagsterInstance, run_key: str) -> dg.DagsterRunStatus | None:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1)
    return runs[0].status if runs else None


def _retries(context: dg.SensorEvaluationContext, cursor: _Cursor) -> list[dg.RunRequest]:
    """Re-request days whose last run failed; forget days whose run succeeded."""
    requests = []
    now = time.time()
    for day, entry in sorted(cursor.pending.items()):
        status = _run_status(context.instance, entry["run_key"])
        if status == dg.DagsterRunStatus.SUCCESS:
            del cursor.pending[day]
        elif status in FAILED and now >= entry.get("not_before", 0):
            attempt = entry.get("attempt", 0) + 1
            base = entry["run_key"].split("|retry")[0]
            run_key = f"{base}|retry{attempt}"
            delay = min(FIRST_RETRY_DELAY_SECONDS * 2 ** (attempt - 1), MAX_RETRY_DELAY_SECONDS)
            cursor.pending[day] = {
                "run_key": run_key,
                "attempt": attempt,
                "not_before": now + delay,
            }
            context.log.warning(f"Import of {day} failed; asking for it again (attempt {attempt}).")
            requests.append(
                dg.RunRequest(
                    run_key=run_key, partition_key=day, tags={"qbpa/retry_attempt": str(attempt)}
                )
            )
    return requests


@dg.sensor(
    name="inventiv_new_orders_sensor",
    job=sales_order_import_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Watches the Inventiv database for orders newer than its cursor (MODIFIED_AT, ORDER_ID) "
        "and launches sales_order_import_job for every day that has new or changed orders; "
        "a day whose run failed is asked for again (with backoff) until it succeeds."
    ),
)
def inventiv_new_orders_sensor(
    context: dg.SensorEvaluationContext, inventiv_db: InventivDbResource
) -> dg.SensorResult | dg.SkipReason:
    """One RunRequest per affected order day; the run key carries the high-water mark."""
    cursor = _Cursor(context.cursor)
    run_requests = _retries(context, cursor)
    try:
        mapping = inventiv_db.mapping()
        with inventiv_db.get_db() as db:
            new = fetch_new_orders(
                db, mapping, cursor.modified_at, cursor.order_id, limit=MAX_ORDERS_PER_TICK
            )
    except Exception as exc:  # an outage must not turn into a crash loop of failed ticks
        reason = f"Inventiv database unavailable: {type(exc).__name__}: {exc}"
        if not run_requests:
            return dg.SensorResult(skip_reason=reason, cursor=cursor.dump())
        context.log.warning(reason)
        new = []

    by_day: dict[date, list] = defaultdict(list)
    for order in new:
        by_day[order.order_date].append(order)
    if new:
        last = new[-1]
        high_water = f"{last.modified_at.isoformat()}|{last.order_id}"
        cursor.modified_at, cursor.order_id = last.modified_at, str(last.order_id)
    valid_days = _partition_keys() if by_day else set()
    skipped = []
    for day, day_orders in sorted(by_day.items()):
        key = day.isoformat()
        if key not in valid_days:
            # Before QBPA_PARTITION_START, or dated in the future (a device clock gone wrong).
            skipped.append(key)
            continue
        run_key = f"orders:{key}:{high_water}"
        cursor.pending[key] = {"run_key": run_key, "attempt": 0, "not_before": 0}
        run_requests = [r for r in run_requests if r.partition_key != key]
        run_requests.append(
            dg.RunRequest(
                run_key=run_key,
                partition_key=key,
                tags={"qbpa/new_orders": str(len(day_orders)), "qbpa/high_water": high_water},
            )
        )
    if skipped:
        context.log.warning(f"Orders dated outside the partition range were skipped: {skipped}")
    if run_requests:
        return dg.SensorResult(run_requests=run_requests, cursor=cursor.dump())
    reason = (
        "New orders, but none in a valid partition."
        if skipped
        else "No new or changed orders since the last tick."
    )
    return dg.SensorResult(skip_reason=reason, cursor=cursor.dump())
