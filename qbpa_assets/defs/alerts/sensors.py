"""Alert sensors: tell a human when a run fails or when orders are waiting in the reject list.

Both sensors only notify (no run requests). Channels come from ``QBPA_ALERT_WEBHOOK_URL`` and
``QBPA_SMTP_URL`` (see :mod:`qbpa_assets.lib.alerts`), read at each evaluation so that a changed
environment needs no code reload. With no channel configured they log and do nothing. Delivery
problems are logged and never raised: a broken mail server must not turn every tick into an
error that hides the alert the sensor was trying to send.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import dagster as dg

from qbpa_assets.lib.alerts import (
    AlertSettings,
    build_rejected_orders_alert,
    build_run_failure_alert,
    send_alert,
)

if TYPE_CHECKING:
    from dagster_shared.error import SerializableErrorInfo

SALES_ORDERS_KEY = dg.AssetKey(["quickbooks", "sales_orders"])

# On a first evaluation (or a lost cursor) only the newest materialization is considered, so
# enabling the sensor on an old deployment does not replay months of warnings; afterwards every
# new materialization is looked at, at most this many per tick (the rest on the next tick).
MAX_MATERIALIZATIONS_PER_TICK = 20


def _root_cause(error: SerializableErrorInfo | None) -> SerializableErrorInfo | None:
    """Follow ``cause`` links: Dagster wraps the user's exception in a step execution error."""
    while error is not None and error.cause is not None:
        error = error.cause
    return error


def _error_lines(error: SerializableErrorInfo | None) -> str:
    """Message of the root cause, then the wrapper's message when it adds something."""
    if error is None:
        return ""
    root = _root_cause(error)
    parts = [root.message.strip()] if root is not None else []
    if root is not error and error.message.strip():
        parts.append(error.message.strip())
    return "\n".join(parts)


def failure_details(context: dg.RunFailureSensorContext) -> tuple[list[str], str]:
    """Return the failed step keys and the error text of a failed run.

    Args:
        context: The run-failure sensor context.

    Returns:
        ``(failed_steps, error_text)``; the error text is the raw (unredacted) messages, one
        block per failed step, or the run-level failure message when no step failed (e.g. the
        run worker crashed).
    """
    steps: list[str] = []
    blocks: list[str] = []
    for event in context.get_step_failure_events():
        step_key = event.step_key or "?"
        steps.append(step_key)
        data = event.step_failure_data
        blocks.append(f"[{step_key}] {_error_lines(data.error if data else None)}".rstrip())
    if not blocks:
        failure = context.failure_event
        specific = getattr(failure.event_specific_data, "error", None)
        blocks.append(_error_lines(specific) or (failure.message or ""))
    return steps, "\n".join(blocks)


@dg.run_failure_sensor(
    name="qbpa_run_failure_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Posts a message (job, run, failed steps, first lines of the error, link to the run) to "
        "QBPA_ALERT_WEBHOOK_URL and/or e-mails it through QBPA_SMTP_URL when a run fails."
    ),
)
def qbpa_run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    """Alert on every failed run of this code location."""
    run = context.dagster_run
    settings = AlertSettings.from_env()
    if not settings.enabled:
        context.log.info(
            f"run {run.run_id} of {run.job_name} failed; no alert channel configured "
            "(set QBPA_ALERT_WEBHOOK_URL and/or QBPA_SMTP_URL)"
        )
        return
    steps, error = failure_details(context)
    alert = build_run_failure_alert(
        job_name=run.job_name,
        run_id=run.run_id,
        failed_steps=steps,
        error=error,
        ui_base_url=settings.ui_base_url,
        partition_key=run.tags.get("dagster/partition"),
    )
    results = send_alert(alert, settings)
    context.log.info(f"failure alert for run {run.run_id}: {_describe(results)}")


def _describe(results: dict[str, str]) -> str:
    return ", ".join(f"{channel} {outcome}" for channel, outcome in results.items()) or "no channel"


def _metadata_value(metadata: dict, key: str) -> object:
    """Unwrap a metadata entry (``IntMetadataValue`` etc.) to its plain value."""
    value = metadata.get(key)
    return getattr(value, "value", value)


def _new_materializations(
    instance: dg.DagsterInstance, last_storage_id: int | None
) -> Sequence[dg.EventLogRecord]:
    if last_storage_id is None:
        return instance.fetch_materializations(SALES_ORDERS_KEY, limit=1).records
    records_filter = dg.AssetRecordsFilter(
        asset_key=SALES_ORDERS_KEY, after_storage_id=last_storage_id
    )
    return instance.fetch_materializations(
        records_filter, limit=MAX_MATERIALIZATIONS_PER_TICK, ascending=True
    ).records


@dg.sensor(
    name="qbpa_rejected_orders_alert",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Warns (webhook / e-mail) once per quickbooks/sales_orders materialization that left "
        "rejected orders; never launches runs."
    ),
)
def qbpa_rejected_orders_alert(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Warn when the latest sales-order imports rejected orders (once per materialization)."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    last_storage_id = cursor.get("storage_id")
    records = _new_materializations(context.instance, last_storage_id)
    if not records:
        if last_storage_id is None:
            # Nothing materialized yet: from now on every materialization counts.
            context.update_cursor(json.dumps({"storage_id": 0}))
        return dg.SkipReason("no new quickbooks/sales_orders materialization")

    settings = AlertSettings.from_env()
    done: list[str] = []
    for record in records:
        materialization = record.asset_materialization
        metadata = dict(materialization.metadata) if materialization else {}
        rejected = int(_metadata_value(metadata, "rejected") or 0)
        partition = materialization.partition if materialization else None
        label = partition or f"storage id {record.storage_id}"
        if rejected <= 0:
            continue
        if not settings.enabled:
            done.append(f"{label}: {rejected} rejected, no alert channel configured")
            continue
        alert = build_rejected_orders_alert(
            rejected=rejected,
            rejects_markdown=str(_metadata_value(metadata, "rejects") or ""),
            partition_key=partition,
            run_id=record.run_id or None,
            ui_base_url=settings.ui_base_url,
        )
        results = send_alert(alert, settings)
        done.append(f"{label}: {rejected} rejected, {_describe(results)}")
        # A channel that just failed (after its retries) is skipped for the rest of this tick,
        # so a dead mail server costs one retry cycle per tick, not one per materialization.
        if results.get("webhook", "sent") != "sent":
            settings = dataclasses.replace(settings, webhook_url=None)
        if results.get("email", "sent") != "sent":
            settings = dataclasses.replace(settings, smtp=None)
        if not settings.enabled:
            done.append("every channel failed; later materializations of this tick not alerted")
            break

    # The cursor moves on even when delivery failed: retrying forever would re-send to the
    # channels that worked and keep the failing one in an error loop; the failure is logged.
    context.update_cursor(json.dumps({"storage_id": max(r.storage_id for r in records)}))
    summary = "; ".join(done) if done else "no rejected orders"
    context.log.info(summary)
    return dg.SkipReason(f"checked {len(records)} materialization(s): {summary}")
