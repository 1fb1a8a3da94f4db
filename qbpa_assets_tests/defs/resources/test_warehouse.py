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
