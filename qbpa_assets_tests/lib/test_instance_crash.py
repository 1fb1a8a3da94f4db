"""Issue 9 case 7: a run killed with ``kill -9`` during order creation does not block the pool.

The real thing: ``dagster-daemon`` (queue, run monitoring, its code server launching runs as
subprocesses) on an instance written by :func:`local_instance_yaml`, the emulator, a SQLite
Inventiv database over ODBC. A first import run is killed (its whole process tree) while its
batch request is in QuickBooks; it dies holding the ``duckdb`` pool slot. Run monitoring frees
that slot, and a second run completes within a few minutes, with every order in QuickBooks once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from qbpa_assets.demo import demo_environment
from qbpa_assets.lib.instance import local_instance_yaml
from qbpa_assets.sandbox.inventiv_demo import DemoLine, DemoOrder
from qbpa_assets_tests.fixtures.odbc import stage_company
from qbpa_assets_tests.fixtures.servers import processes_with_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
JOB = "sales_order_import_job"
TIMEOUT = 180.0
_ENV_PREFIXES = ("QBO_", "INVENTIV_", "QBPA_", "DAGSTER_")


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc), deepest last."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def _wait(what: str, check, log: Path, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{tail}")


def _launch(env: dict, day: date) -> None:
    done = subprocess.run(
        [str(BIN / "dagster"), "job", "launch", "-w", "workspace.yaml", "-j", JOB, "--tags",
         json.dumps({"dagster/partition": day.isoformat()})],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_killed_run_frees_its_slot_and_the_next_run_creates_each_order_once(
    fresh_emulator, sqlite_odbc_db, tmp_path
) -> None:
    emu = fresh_emulator()
    day = date.today()
    customers = [c["Id"] for c in emu.company.usable_customers()][:5]
    items = [i["Id"] for i in emu.company.usable_items()][:3]
    sqlite_odbc_db.insert_orders(
        [
            DemoOrder(n, f"PA-{n}", day, customers[n % 5], [DemoLine(items[n % 3], 2, 3.5)])
            for n in range(1, 6)
        ]
    )
    data_dir, home = tmp_path / "var", tmp_path / "dagster_home"
    data_dir.mkdir()
    home.mkdir()
    with duckdb.connect(str(data_dir / "qbpa.duckdb")) as con:
        stage_company(con, emu.company)  # the master data a nightly run would have built
    (home / "dagster.yaml").write_text(
        local_instance_yaml(poll_interval_seconds=2, free_slots_after_run_end_seconds=3)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIXES)}
    env.update(demo_environment(data_dir, emu.env(), sqlite_odbc_db.connection_string))
    env.update(DAGSTER_HOME=str(home), PYTHONUNBUFFERED="1", QBPA_PARTITION_START="2026-01-01")
    # Create the instance's storage before any other process opens it (SQLite DDL races).
    instance = dg.DagsterInstance.from_config(str(home))
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _launch(env, day)

        def looked_up() -> bool:
            return any(e["op"] == "query" for e in emu.request_log)

        # Every API answer takes 8 s from the run's start on: the DocNumber look-up, then the
        # batch, during which the run's process tree is killed.
        def started_run() -> bool:
            runs = instance.get_runs(limit=1)
            return bool(runs) and runs[0].status == dg.DagsterRunStatus.STARTED

        _wait("the first run to start", started_run, log)
        emu.set_latency(8)
        _wait("the first run's DocNumber look-up", looked_up, log)
        time.sleep(2)  # the batch request is now in QuickBooks
        [first] = instance.get_runs(limit=1)
        # The code server runs each run as multiprocessing children (run worker, its step
        # processes, their resource tracker): that is the run's process tree.
        workers = [pid for pid in _children(daemon.pid) if "multiprocessing" in _cmdline(pid)]
        assert workers, [(p, _cmdline(p)) for p in _children(daemon.pid)]
        for pid in workers:  # kill -9 of the run's process tree
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        emu.set_latency(0)
        _wait(
            "the killed run to be marked failed",
            lambda: instance.get_run_by_id(first.run_id).status == dg.DagsterRunStatus.FAILURE,
            log,
        )

        started = time.monotonic()
        _launch(env, day)
        second = _wait(
            "the second run to finish",
            lambda: next(
                (r for r in instance.get_runs(limit=1) if r.run_id != first.run_id
                 and r.is_finished), None,
            ),
            log,
        )  # fmt: skip
        assert second.status == dg.DagsterRunStatus.SUCCESS, log.read_text()[-4000:]
        assert time.monotonic() - started < TIMEOUT
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            daemon.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGKILL)
        for line in processes_with_env(str(home)):
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(line.split(":")[0]), signal.SIGKILL)
        instance.dispose()
    numbers = Counter(e.get("DocNumber") for e in emu.entities("Estimate"))
    assert {f"PA-{n}": numbers[f"PA-{n}"] for n in range(1, 6)} == {
        f"PA-{n}": 1 for n in range(1, 6)
    }
