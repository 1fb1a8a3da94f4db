"""Alert messages: the channel-independent :class:`Alert` and the builders of each kind.

Builders keep only a redacted summary of error text (first lines, cut to a readable size), link
to the Dagster UI, and put structured details in ``fields`` (merged into the webhook's JSON).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from qbpa_assets.lib.redact import redact

DEFAULT_UI_BASE_URL = "http://127.0.0.1:3000"


def summarize_error(
    text: str, max_lines: int = 10, max_line_chars: int = 300, max_chars: int = 2000
) -> str:
    """Return the first non-blank lines of an error, cut to a readable size and redacted.

    Args:
        text: The full error text (message, possibly with a stack trace).
        max_lines: How many non-blank lines to keep.
        max_line_chars: Longer lines are cut and end with ``…``.
        max_chars: Upper bound of the whole summary.

    Returns:
        The summary; ``""`` when ``text`` is blank.
    """
    lines = [line.rstrip() for line in redact(text).splitlines() if line.strip()]
    kept = [
        line if len(line) <= max_line_chars else line[: max_line_chars - 1] + "…"
        for line in lines[:max_lines]
    ]
    if len(lines) > max_lines:
        kept.append(f"… ({len(lines) - max_lines} more lines)")
    summary = "\n".join(kept)
    return summary if len(summary) <= max_chars else summary[: max_chars - 1] + "…"


def run_url(ui_base_url: str, run_id: str) -> str:
    """Return the link to a run in the Dagster UI (``<base>/runs/<run_id>``)."""
    return f"{ui_base_url.rstrip('/')}/runs/{run_id}"


def asset_url(ui_base_url: str, asset_key_path: Sequence[str]) -> str:
    """Return the link to an asset in the Dagster UI (``<base>/assets/<a>/<b>``)."""
    return f"{ui_base_url.rstrip('/')}/assets/{'/'.join(quote(p) for p in asset_key_path)}"


@dataclass(frozen=True)
class Alert:
    """One notification, independent of the channel that carries it.

    Attributes:
        kind: Machine-readable type: ``run_failure`` or ``rejected_orders``.
        severity: ``error`` or ``warning``.
        title: One line, used as the e-mail subject.
        text: Human-readable body (plain text, also Slack-compatible).
        fields: Structured details, merged into the JSON payload.
    """

    kind: str
    severity: str
    title: str
    text: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """Return the JSON document posted to the webhook."""
        return {
            "source": "qbpa",
            "kind": self.kind,
            "severity": self.severity,
            "title": self.title,
            "text": self.text,
            **self.fields,
        }


def build_run_failure_alert(
    job_name: str,
    run_id: str,
    failed_steps: Sequence[str],
    error: str,
    ui_base_url: str = DEFAULT_UI_BASE_URL,
    partition_key: str | None = None,
) -> Alert:
    """Build the alert for a failed Dagster run.

    Args:
        job_name: Name of the failed job.
        run_id: The run id.
        failed_steps: Keys of the steps (ops/assets) that failed; empty for run-level failures.
        error: Full error text; only a redacted summary of its first lines is kept.
        ui_base_url: Base URL of the Dagster UI, for the run link.
        partition_key: The run's partition, if any.

    Returns:
        The alert, with fields ``job``, ``run_id``, ``failed_steps``, ``error``, ``url`` and
        ``partition``.
    """
    summary = summarize_error(error) or "(no error message)"
    url = run_url(ui_base_url, run_id)
    steps = ", ".join(failed_steps) if failed_steps else "(run-level failure)"
    where = f" [partition {partition_key}]" if partition_key else ""
    text = (
        f":rotating_light: qbpa run failed: job `{job_name}`{where}\n"
        f"Run: {run_id}\nFailed step(s): {steps}\nError:\n{summary}\n{url}"
    )
    return Alert(
        kind="run_failure",
        severity="error",
        title=f"[qbpa] job {job_name} failed{where}",
        text=text,
        fields={
            "job": job_name,
            "run_id": run_id,
            "partition": partition_key,
            "failed_steps": list(failed_steps),
            "error": summary,
            "url": url,
        },
    )


def build_rejected_orders_alert(
    rejected: int,
    rejects_markdown: str = "",
    partition_key: str | None = None,
    run_id: str | None = None,
    ui_base_url: str = DEFAULT_UI_BASE_URL,
    asset_key_path: Sequence[str] = ("quickbooks", "sales_orders"),
) -> Alert:
    """Build the warning sent when a sales-order import left rejected orders behind.

    Args:
        rejected: Number of rejected orders in the materialization.
        rejects_markdown: The markdown table of rejects (order id, reason) from the metadata.
        partition_key: The day the materialization covers.
        run_id: The run that produced it (``None`` for run-less reports).
        ui_base_url: Base URL of the Dagster UI.
        asset_key_path: The asset key, for the asset link.

    Returns:
        The alert, with fields ``asset``, ``partition``, ``rejected``, ``rejects``, ``run_id``,
        ``url`` (run link, or asset link without a run) and ``asset_url``.
    """
    link_asset = asset_url(ui_base_url, asset_key_path)
    url = run_url(ui_base_url, run_id) if run_id else link_asset
    rejects = summarize_error(rejects_markdown, max_lines=25, max_chars=4000)
    where = f" for {partition_key}" if partition_key else ""
    text = (
        f":warning: qbpa: {rejected} PocketAdvantage order(s) rejected by QuickBooks{where} "
        f"and waiting for a fix.\n{rejects}\n{url}"
    ).replace("\n\n", "\n")
    return Alert(
        kind="rejected_orders",
        severity="warning",
        title=f"[qbpa] {rejected} rejected order(s) waiting{where}",
        text=text,
        fields={
            "asset": "/".join(asset_key_path),
            "partition": partition_key,
            "rejected": rejected,
            "rejects": rejects,
            "run_id": run_id,
            "url": url,
            "asset_url": link_asset,
        },
    )


def build_stale_file_alert(
    asset_key_path: Sequence[str],
    last_delivered: datetime | None,
    fail_window: timedelta,
    now: datetime,
    ui_base_url: str = DEFAULT_UI_BASE_URL,
) -> Alert:
    """Build the alert for a ``.fil`` file that was not delivered within its freshness window.

    Args:
        asset_key_path: The file's asset key, e.g. ``("inventiv_ftp", "invoice_fil")``.
        last_delivered: When it was last materialized (None: never).
        fail_window: How stale it may get (the asset's freshness policy).
        now: The time of the evaluation.
        ui_base_url: Base URL of the Dagster UI.

    Returns:
        The alert (``kind = "stale_file"``, severity ``error``), with fields ``asset``,
        ``last_delivered``, ``hours_since``, ``fail_window_hours`` and ``url``.
    """
    asset = "/".join(asset_key_path)
    url = asset_url(ui_base_url, asset_key_path)
    limit = fail_window.total_seconds() / 3600
    if last_delivered is None:
        since, hours = "never delivered", None
    else:
        hours = round((now - last_delivered).total_seconds() / 3600, 1)
        since = f"last delivered {last_delivered.isoformat(timespec='minutes')} ({hours} h ago)"
    text = (
        f":rotating_light: qbpa: `{asset}` is stale: {since}; it must be delivered at least "
        f"every {limit:g} h. PocketAdvantage is not getting fresh data: check the nightly runs "
        f"and the FTP.\n{url}"
    )
    return Alert(
        kind="stale_file",
        severity="error",
        title=f"[qbpa] {asset} not delivered for more than {limit:g} h",
        text=text,
        fields={
            "asset": asset,
            "last_delivered": last_delivered.isoformat() if last_delivered else None,
            "hours_since": hours,
            "fail_window_hours": limit,
            "url": url,
        },
    )
