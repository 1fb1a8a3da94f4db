"""The local instance template (``make dev`` / ``make demo``) loads and enforces its limits."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.run_coordinator import QueuedRunCoordinator

from qbpa_assets.lib.instance import local_instance_yaml


def assert_duckdb_pool_admits_one_step(instance: dg.DagsterInstance) -> None:
    """The `duckdb` pool gets the default limit 1: a second step waits until the first ends."""
    storage = instance.event_log_storage
    # Only when absent: on PostgreSQL, re-initializing an existing pool hits a unique-key
    # violation inside dagster-postgres 0.29.27 instead of being the documented no-op.
    if "duckdb" not in storage.get_concurrency_keys():
        storage.initialize_concurrency_limit_to_default("duckdb")
    assert storage.get_concurrency_info("duckdb").slot_count == 1
    first = storage.claim_concurrency_slot("duckdb", "run-a", "quickbooks__customers")
    second = storage.claim_concurrency_slot("duckdb", "run-b", "staging__customers")
    assert first.is_claimed
    assert not second.is_claimed
    storage.free_concurrency_slots_for_run("run-a")
    assert storage.claim_concurrency_slot("duckdb", "run-b", "staging__customers").is_claimed
    storage.free_concurrency_slots_for_run("run-b")


def load(tmp_path: Path, text: str) -> dg.DagsterInstance:
    (tmp_path / "dagster.yaml").write_text(text)
    return dg.DagsterInstance.from_config(str(tmp_path))


def test_local_instance_yaml_is_valid_yaml():
    config = yaml.safe_load(local_instance_yaml())
    assert config["telemetry"] == {"enabled": False}
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert "storage" not in config  # SQLite under DAGSTER_HOME


def test_local_instance_loads_with_limits(tmp_path: Path):
    with load(tmp_path, local_instance_yaml()) as instance:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4
        assert instance.global_op_concurrency_default_limit == 1
        assert instance.telemetry_enabled is False
        assert instance.run_monitoring_enabled
        # A killed run's `duckdb` slot is freed a minute after the run is marked failed.
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 60
        assert instance.run_monitoring_settings["poll_interval_seconds"] == 30
        assert_duckdb_pool_admits_one_step(instance)


def test_local_instance_runs_a_job(tmp_path: Path):
    @dg.asset(pool="duckdb")
    def tiny() -> int:
        return 1

    with load(tmp_path, local_instance_yaml(max_concurrent_runs=2)) as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 2
        result = dg.materialize([tiny], instance=instance)
        assert result.success
        assert instance.get_latest_materialization_event(dg.AssetKey("tiny")) is not None


def test_local_instance_yaml_rejects_bad_limit():
    with pytest.raises(ValueError):
        local_instance_yaml(max_concurrent_runs=-2)
    with pytest.raises(ValueError):
        local_instance_yaml(free_slots_after_run_end_seconds=0)
