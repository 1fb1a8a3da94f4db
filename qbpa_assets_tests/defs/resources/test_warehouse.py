"""The DuckDB warehouse resource: settings applied, another process's lock waited out."""

import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from qbpa_assets.defs.resources.warehouse import WarehouseResource


def test_connection_uses_the_partitions_time_zone_and_memory_cap(tmp_path):
    warehouse = WarehouseResource(
        data_dir=str(tmp_path), timezone="America/Los_Angeles", memory_limit="300MB"
    )
    with warehouse.get_connection() as con:
        zone, limit = con.execute(
            "SELECT current_setting('TimeZone'), current_setting('memory_limit')"
        ).fetchone()
    assert zone == "America/Los_Angeles"
    assert limit.replace(" ", "") in {"300.0MB", "286.1MiB", "300MB"}
    assert warehouse.database_path == tmp_path / "qbpa.duckdb"


def test_a_lock_held_by_another_process_is_waited_out(tmp_path):
    warehouse = WarehouseResource(data_dir=str(tmp_path))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys, time
                con = duckdb.connect({str(warehouse.database_path)!r})
                con.execute("CREATE TABLE t AS SELECT 1 AS x")
                print("locked", flush=True)
                time.sleep(2)
                con.close()
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(duckdb.IOException):  # DuckDB itself refuses at once …
        duckdb.connect(str(warehouse.database_path))
    started = time.monotonic()
    with warehouse.get_connection() as con:  # … the resource waits for the lock
        assert con.execute("SELECT x FROM t").fetchone() == (1,)
    assert time.monotonic() - started > 0.5
    holder.wait(timeout=10)


def test_a_lock_held_too_long_fails_with_duckdbs_error(tmp_path):
    warehouse = WarehouseResource(data_dir=str(tmp_path), lock_timeout_seconds=0.5)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(warehouse.database_path)!r});"
            "print('locked', flush=True); time.sleep(5)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(duckdb.IOException, match="lock"):
            with warehouse.get_connection():
                pass
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(
    ("name", "bad", "allowed"),
    [
        ("QBPA_TIMEZONE", "Nowhere/Bogus", "IANA time zone"),
        ("QBPA_PARTITION_START", "garbage", "YYYY-MM-DD"),
        ("QBPA_DUCKDB_MEMORY_LIMIT", "lots", "512MB"),
        ("QBO_SALES_ORDER_ENTITY", "SalesOrder", "SalesReceipt"),
        ("QBPA_SALES_REP_SOURCE", "custom_field:", "custom_field"),
    ],
)
def test_a_run_with_a_bad_setting_fails_naming_the_variable(
    monkeypatch, tmp_path, name, bad, allowed
):
    """The resources built from the declarations check their values when a run starts."""
    import dagster as dg

    from qbpa_assets import config
    from qbpa_assets.defs.resources import build_resources

    monkeypatch.setenv("QBPA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(name, bad)
    resources = build_resources()  # building them (definitions load) never raises
    with pytest.raises(dg.DagsterResourceFunctionError) as err:
        with dg.build_resources(resources):
            pass
    cause = err.value.__cause__
    assert isinstance(cause, config.ConfigError), err.value
    assert cause.variable == name and name in str(cause) and allowed in str(cause)
