"""The local Dagster instance configuration (``$DAGSTER_HOME/dagster.yaml``) for dev and demo.

Production uses ``deploy/dagster.yaml`` (PostgreSQL storage, see ``deploy/README.md``); this
template keeps Dagster's default SQLite storage under ``DAGSTER_HOME`` but applies the same
execution rules, so that ``make dev`` behaves like production where it matters:

* runs go through the queue (``QueuedRunCoordinator``), at most ``max_concurrent_runs`` at once;
* every concurrency pool defaults to one slot, so the ``duckdb`` pool lets a single step at a
  time write the DuckDB file across all runs;
* run monitoring marks runs whose worker died as failed and frees the slots they still hold
  (``free_slots_after_run_end_seconds``), so a crashed run never blocks the pool;
* telemetry is off.
"""

from __future__ import annotations

_TEMPLATE = """\
# Local Dagster instance for qbpa (written by `qbpa instance-yaml`; production: deploy/).
# Storage: Dagster's default SQLite files under DAGSTER_HOME.

run_coordinator:
  module: dagster
  class: QueuedRunCoordinator

concurrency:
  runs:
    max_concurrent_runs: {max_concurrent_runs}
  pools:
    # One slot per pool unless configured otherwise: the `duckdb` pool serializes every step
    # that writes the DuckDB file (DuckDB allows one writer process per file).
    default_limit: 1

# Mark runs whose worker process died as failed (fires the run-failure alert sensor), and free
# the concurrency slots a dead run still holds: a run killed mid-step (kill -9, OOM, reboot)
# never releases its `duckdb` slot itself, and every later run would wait for it for ever.
run_monitoring:
  enabled: true
  max_resume_run_attempts: 0
  poll_interval_seconds: {poll_interval_seconds}
  free_slots_after_run_end_seconds: {free_slots_after_run_end_seconds}

telemetry:
  enabled: false

# No "join the community" pop-up over the asset graph of a demo.
nux:
  enabled: false
"""


def local_instance_yaml(
    max_concurrent_runs: int = 4,
    *,
    poll_interval_seconds: int = 30,
    free_slots_after_run_end_seconds: int = 60,
) -> str:
    """Return the ``dagster.yaml`` used by ``make dev`` and ``make demo``.

    Args:
        max_concurrent_runs: How many runs the queue lets run at once.
        poll_interval_seconds: How often the daemon's run monitoring looks for dead runs.
        free_slots_after_run_end_seconds: How long after a run ended its leftover concurrency
            slots are freed (a killed run never frees them itself).

    Returns:
        The YAML text, ready to be written to ``$DAGSTER_HOME/dagster.yaml``.

    Raises:
        ValueError: If ``max_concurrent_runs`` is below -1 (-1 means unlimited, 0 pauses).
    """
    if max_concurrent_runs < -1:
        raise ValueError("max_concurrent_runs must be -1 (unlimited) or more")
    if poll_interval_seconds < 1 or free_slots_after_run_end_seconds < 1:
        raise ValueError("run monitoring intervals must be at least 1 second")
    return _TEMPLATE.format(
        max_concurrent_runs=max_concurrent_runs,
        poll_interval_seconds=poll_interval_seconds,
        free_slots_after_run_end_seconds=free_slots_after_run_end_seconds,
    )
