"""Stale-file alert: a ``.fil`` file not delivered within its freshness window alerts.

Each ``.fil`` asset declares how stale it may get in Dagster's own terms
(``dg.FreshnessPolicy.time_window(fail_window=26 h)``, see :mod:`qbpa_assets.defs.inventiv_ftp`).
This sensor reads that policy from the code location and the time of each asset's latest
materialization from the instance; a file older than its window sends one alert (webhook and/or
e-mail, :func:`qbpa_assets.lib.alerts.notify`) per stale episode: again only after a new
delivery went stale too (an alert no channel could deliver is tried again on the next tick). A
file never delivered counts from the sensor's first evaluation, so a fresh deployment does not
alert before it had a chance to run.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import dagster as dg

from qbpa_assets.lib.alerts import AlertSettings, build_stale_file_alert, notify


def _now() -> datetime:
    """The evaluation time (a function, so a test can let a day pass)."""
    return datetime.now(UTC)


def _policies(repository: dg.RepositoryDefinition) -> dict[dg.AssetKey, object]:
    """The assets that declare a time-window freshness policy, with it."""
    graph = repository.asset_graph
    out = {}
    for key in graph.get_all_asset_keys():
        policy = getattr(graph.get(key), "freshness_policy", None)
        if policy is not None and hasattr(policy, "fail_window"):
            out[key] = policy
    return out


@dg.sensor(
    name="qbpa_stale_file_alert",
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Alerts (webhook / e-mail) when a .fil file has not been delivered within its "
        "freshness policy (26 h for the nightly files); never launches runs."
    ),
)
def qbpa_stale_file_alert(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Alert once per stale episode of each ``.fil`` asset."""
    now = _now()
    cursor = json.loads(context.cursor) if context.cursor else {}
    first_seen = datetime.fromisoformat(cursor.get("first_seen", now.isoformat()))
    alerted: dict[str, int] = cursor.get("alerted", {})
    settings = AlertSettings.from_env()
    configured = settings.enabled
    stale: list[str] = []
    if context.repository_def is None:  # only outside a code location (a bare test context)
        return dg.SkipReason("no code location to read the freshness policies from")
    policies = _policies(context.repository_def)
    for key, policy in sorted(policies.items(), key=lambda item: item[0].to_user_string()):
        window = policy.fail_window.to_timedelta()
        records = context.instance.fetch_materializations(key, limit=1).records
        last = datetime.fromtimestamp(records[0].timestamp, UTC) if records else None
        marker = records[0].storage_id if records else 0
        if now - (last or first_seen) <= window:
            continue
        name = key.to_user_string()
        stale.append(name)
        if alerted.get(name) == marker:
            continue  # this episode was alerted already
        alert = build_stale_file_alert(key.path, last, window, now, settings.ui_base_url)
        results = notify(alert, settings=settings) if settings.enabled else {}
        outcome = ", ".join(f"{c} {o}" for c, o in results.items()) or "no alert channel"
        context.log.warning(f"{name} is stale ({alert.title}): {outcome}")
        if "sent" in results.values() or not configured:
            alerted[name] = marker  # else tried again on the next tick
        # A channel that just failed (after its retries) is skipped for the rest of the tick.
        if results.get("webhook", "sent") != "sent":
            settings = dataclasses.replace(settings, webhook_url=None)
        if results.get("email", "sent") != "sent":
            settings = dataclasses.replace(settings, smtp=None)
    context.update_cursor(json.dumps({"first_seen": first_seen.isoformat(), "alerted": alerted}))
    return dg.SkipReason(f"stale: {', '.join(stale)}" if stale else "every file is fresh")
