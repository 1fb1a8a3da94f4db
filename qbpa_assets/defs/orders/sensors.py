"""The new-order sensor: PocketAdvantage orders reach QuickBooks within a minute.

What a tick says, from the most to the least serious:

* **Configuration error** (a bad ``orders.toml`` override, a bad variable): the tick FAILS with
  the file and field (or the variable and its allowed values) and one alert is sent per
  distinct error (remembered in the instance's key-value store, since a failed tick keeps no
  cursor); fixing it resumes the sensor where it was.
* **Not set up yet**: no ``INVENTIV_DB_CONNECTION``, or the master data (``staging/customers``,
  ``staging/items``) never built — a skip saying so; no run is launched that could only fail.
* **Database outage**: a skip naming the error; once it has lasted longer than
  ``QBPA_DB_OUTAGE_ALERT_MINUTES`` (default 60) one alert is sent, and another when it is back.
"""

import json
import time
from collections import defaultdict
from datetime import UTC, date, datetime

import dagster as dg

from qbpa_assets import config
from qbpa_assets.defs.keys import STAGING_CUSTOMERS, STAGING_ITEMS
from qbpa_assets.defs.orders.assets import sales_order_import_job
from qbpa_assets.defs.partitions import order_daily_partitions
from qbpa_assets.defs.resources.inventiv_db import InventivDbResource
from qbpa_assets.lib.alerts import Alert, notify
from qbpa_assets.lib.inventiv.db import InventivDbError
from qbpa_assets.lib.mappings import MappingError
from qbpa_assets.lib.orders.new_orders import fetch_new_orders

SENSOR_NAME = "inventiv_new_orders_sensor"
# Read at import: a bad value must not take the code location down (the tick reports it).
SENSOR_INTERVAL_SECONDS = int(str(config.value_or_default("QBPA_ORDER_SENSOR_INTERVAL")))
MAX_ORDERS_PER_TICK = 1000
RUN_KEY_TAG = "dagster/run_key"
# A day whose import run failed is asked for again: at once, then after 2, 4, 8 … minutes, at
# most hourly, until a run of that day succeeds. The cursor has already moved past its orders,
# so without this a failed run (QuickBooks down, master data not built yet) would strand them.
FIRST_RETRY_DELAY_SECONDS = 120
MAX_RETRY_DELAY_SECONDS = 3600
FAILED = {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
# Instance key-value entry remembering the configuration error already alerted.
CONFIG_ALERT_KEY = f"qbpa/{SENSOR_NAME}/config_error_alerted"
# The variables a tick depends on: a bad value of any is a configuration error.
_TICK_SYSTEMS = ("database", "mappings", "orders")


class _Cursor:
    """JSON cursor: the high-water mark (MODIFIED_AT, ORDER_ID) and the days awaiting success."""

    def __init__(self, raw: str | None):
        data = json.loads(raw) if raw else {}
        stamp = data.get("modified_at")
        self.modified_at: datetime | None = datetime.fromisoformat(stamp) if stamp else None
        self.order_id: str | None = data.get("order_id")
        # day -> {"run_key": str, "attempt": int, "not_before": epoch seconds}
        self.pending: dict[str, dict] = data.get("pending", {})
        # {"since": epoch seconds, "alerted": bool} while the database is unreachable
        self.outage: dict | None = data.get("outage")

    def dump(self) -> str:
        return json.dumps(
            {
                "modified_at": self.modified_at.isoformat() if self.modified_at else None,
                "order_id": self.order_id,
                "pending": self.pending,
                "outage": self.outage,
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


def _configuration(inventiv_db: InventivDbResource):
    """The tick's configuration: (order mapping, outage alert threshold in seconds).

    Raises:
        MappingError: The order mapping (or its override) is invalid, naming file and field.
        config.ConfigError: A variable the tick depends on holds a bad value.
    """
    names = [v.name for v in config.VARIABLES if v.system in _TICK_SYSTEMS]
    bad = config.problems(names=names)
    if bad:
        raise bad[0]
    threshold = int(str(config.value("QBPA_DB_OUTAGE_ALERT_MINUTES"))) * 60
    return inventiv_db.mapping(), threshold


def _config_failure(context: dg.SensorEvaluationContext, exc: Exception) -> Exception:
    """Alert once per distinct configuration error; return the error that fails the tick."""
    message = f"New orders are not imported: configuration error: {exc}"
    storage = context.instance.run_storage
    if storage.get_cursor_values({CONFIG_ALERT_KEY}).get(CONFIG_ALERT_KEY) != message:
        notify(
            Alert(
                kind="configuration_error",
                severity="error",
                title="qbpa: new PocketAdvantage orders are not imported (configuration error)",
                text=f"{message}\nFix it (or remove the override); the sensor then resumes.",
                fields={"sensor": SENSOR_NAME},
            )
        )
        storage.set_cursor_values({CONFIG_ALERT_KEY: message})
    return exc


def _master_data_missing(instance: dg.DagsterInstance) -> list[str]:
    """The staged master data the import validates against that was never materialized."""
    return [
        "/".join(key.path)
        for key in (STAGING_CUSTOMERS, STAGING_ITEMS)
        if instance.get_latest_materialization_event(key) is None
    ]


def _outage(
    context: dg.SensorEvaluationContext, cursor: _Cursor, exc: Exception, threshold: int
) -> str:
    """Skip reason for an unreachable database; alert once it lasts longer than the threshold."""
    now = time.time()
    if cursor.outage is None:
        cursor.outage = {"since": now, "alerted": False}
    since = float(cursor.outage["since"])
    minutes = int((now - since) // 60)
    started = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M UTC")
    reason = (
        f"Inventiv database unavailable since {started} ({minutes} min): "
        f"{type(exc).__name__}: {exc}"
    )
    if now - since >= threshold and not cursor.outage.get("alerted"):
        notify(
            Alert(
                kind="database_outage",
                severity="error",
                title="qbpa: the Inventiv database has been unreachable for "
                f"{minutes} minutes; new orders wait",
                text=f"{reason}\nOrders are imported as soon as it answers again.",
                fields={"sensor": SENSOR_NAME, "since": started},
            )
        )
        cursor.outage["alerted"] = True
    return reason


def _recovered(cursor: _Cursor) -> None:
    if cursor.outage is not None and cursor.outage.get("alerted"):
        notify(
            Alert(
                kind="database_outage",
                severity="warning",
                title="qbpa: the Inventiv database answers again",
                text="New orders are imported again.",
                fields={"sensor": SENSOR_NAME, "resolved": True},
            )
        )
    cursor.outage = None


@dg.sensor(
    name=SENSOR_NAME,
    job=sales_order_import_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Watches the Inventiv database for orders newer than its cursor (MODIFIED_AT, ORDER_ID) "
        "and launches sales_order_import_job for every day that has new or changed orders; "
        "a day whose run failed is asked for again (with backoff) until it succeeds. A "
        "configuration error fails the tick and alerts; a long database outage alerts."
    ),
)
def inventiv_new_orders_sensor(
    context: dg.SensorEvaluationContext, inventiv_db: InventivDbResource
) -> dg.SensorResult | dg.SkipReason:
    """One RunRequest per affected order day; the run key carries the high-water mark."""
    cursor = _Cursor(context.cursor)
    try:
        mapping, outage_threshold = _configuration(inventiv_db)
    except (MappingError, config.ConfigError, OSError) as exc:
        raise _config_failure(context, exc) from None
    storage = context.instance.run_storage
    if storage.get_cursor_values({CONFIG_ALERT_KEY}).get(CONFIG_ALERT_KEY):
        storage.set_cursor_values({CONFIG_ALERT_KEY: ""})  # fixed: a new error alerts again
    if not (inventiv_db.connection_string or "").strip():
        return dg.SensorResult(
            skip_reason="The order import is not set up: INVENTIV_DB_CONNECTION is not set.",
            cursor=cursor.dump(),
        )
    missing = _master_data_missing(context.instance)
    if missing:
        # Every order would fail validation: wait (the cursor stays, no order is skipped).
        return dg.SensorResult(
            skip_reason=(
                f"Waiting for the master data: {', '.join(missing)} never built. Run "
                "nightly_master_data_job (it runs every night); new orders are imported after."
            ),
            cursor=cursor.dump(),
        )
    run_requests = _retries(context, cursor)
    try:
        with inventiv_db.get_db() as db:
            new = fetch_new_orders(
                db, mapping, cursor.modified_at, cursor.order_id, limit=MAX_ORDERS_PER_TICK
            )
    except MappingError as exc:  # new_orders_sql lacks a column: configuration, not outage
        raise _config_failure(context, exc) from None
    except InventivDbError as exc:  # a real outage must not turn into a loop of failed ticks
        reason = _outage(context, cursor, exc, outage_threshold)
        if not run_requests:
            return dg.SensorResult(skip_reason=reason, cursor=cursor.dump())
        context.log.warning(reason)
        new = []
    else:
        _recovered(cursor)

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
