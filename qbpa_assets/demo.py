"""``qbpa demo``: every flow on the bundled emulator, no account needed.

The demo starts the QuickBooks Online emulator with a generated sample company, creates a sample
Inventiv database (SQLite through ODBC) whose orders reference that company, points the Inventiv
"FTP" at a local folder, then runs the nightly export and an order import through Dagster exactly
as the daemon would, and prints where everything landed. Its sales reps come from the sample
company's "Sales Rep" custom field (`DEMO_REP_SOURCE`), so the Estimates it creates carry the
order's rep. ``qbpa dev`` (:mod:`qbpa_assets.dev`) reuses its sample company and database for
the UI, in a folder of its own.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, timedelta
from pathlib import Path

DEMO_ACCOUNT_ID = "demo"
# The sample company of `qbpa demo` (its defaults) and `qbpa dev`.
DEMO_COMPANY = {"customers": 120, "items": 60, "invoices": 300, "days": 7, "seed": 42}
DEMO_ORDERS = 25
# The sample company's invoices carry their rep in this custom field (DefinitionId 1; the rep's
# initials), so the demo's Estimates can carry it too. The demo database's REP_IDs are Employee
# Ids: they match the field's values through staging.sales_reps.employee_id (lib/orders/reps.py).
DEMO_REP_FIELD = "Sales Rep"
DEMO_REP_SOURCE = f"custom_field:{DEMO_REP_FIELD}"


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# What a demo leaves behind; removed at the start of the next demo so that every run starts
# from the same state (the emulator keeps its company in memory: a ledger from an earlier
# emulator would point at sales orders that no longer exist).
DEMO_STATE = (
    "qbpa.duckdb",
    "qbpa.duckdb.wal",
    "qbo_tokens.json",
    "qbo_tokens.json.lock",
    "inventiv_ftp",
    "exports",
    "scratch",
    "inventiv_demo.sqlite",
)


def _data_dir(value: str | None) -> Path:
    """The demo's own folder: ``--data-dir``, else ``$QBPA_DATA_DIR/demo``, else ``./var/demo``."""
    if value:
        path = Path(value)
    else:
        path = Path(os.environ.get("QBPA_DATA_DIR") or "./var") / "demo"
    path = path.expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _reset(data_dir: Path) -> None:
    import shutil

    for name in DEMO_STATE:
        target = data_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)


def demo_environment(
    data_dir: Path, emulator_env: dict[str, str], db_connection: str, rep_source: str | None = None
) -> dict:
    """Every variable the code location reads, pointed at the emulator and local folders.

    Args:
        data_dir: The folder of the runs' results.
        emulator_env: The emulator's ``QBO_*`` settings.
        db_connection: The demo Inventiv database's ODBC connection string.
        rep_source: ``QBPA_SALES_REP_SOURCE`` to set (the demo's `DEMO_REP_SOURCE`); None
            leaves it to the environment (default ``employee``).

    Raises:
        SystemExit: A variable of the environment the demo keeps (e.g. ``QBPA_TIMEZONE``) holds
            a value the runs would refuse; the message names it and its allowed values.
    """
    from qbpa_assets import config

    env = dict(emulator_env)
    env.update(
        {
            "INVENTIV_FTP_URL": (data_dir / "inventiv_ftp").as_uri(),
            "INVENTIV_ACCOUNT_ID": DEMO_ACCOUNT_ID,
            "INVENTIV_DB_CONNECTION": db_connection,
            "QBPA_DATA_DIR": str(data_dir),
        }
    )
    if rep_source is not None:
        env["QBPA_SALES_REP_SOURCE"] = rep_source
    env.setdefault(
        "QBPA_PARTITION_START",
        os.environ.get("QBPA_PARTITION_START") or (date.today() - timedelta(days=60)).isoformat(),
    )
    # The demo's own values win; anything else comes from the environment, judged as a run would.
    problems = config.problems({**os.environ, **env})
    if problems:
        raise SystemExit("qbpa demo: " + "; ".join(str(p) for p in problems))
    return env


def _create_demo_db(data_dir: Path, company, orders: int = DEMO_ORDERS) -> str:
    """The sample Inventiv database (a few invalid orders among them); its connection string."""
    from qbpa_assets.sandbox.inventiv_demo import create_demo_db

    return create_demo_db(
        data_dir / "inventiv_demo.sqlite", company, orders=orders, invalid=5, days=3
    )


def _load_defs_and_instance():
    """The code location as the daemon loads it, and the instance runs are recorded in."""
    import dagster as dg

    from qbpa_assets.definitions import defs

    instance = (
        dg.DagsterInstance.get()
        if os.environ.get("DAGSTER_HOME")
        else dg.DagsterInstance.ephemeral()
    )
    return defs(), instance


def _run_job(defs, instance, name: str, partition_key: str | None = None, until: str | None = None):
    """Run job ``name`` for one partition, or as one run over ``partition_key`` … ``until``."""
    job = defs.resolve_job_def(name)
    label = f"{name}" + (f" [{partition_key}]" if partition_key else "")
    tags = None
    if until is not None:
        label = f"{name} [{partition_key} … {until}]"
        tags = {
            "dagster/asset_partition_range_start": partition_key,
            "dagster/asset_partition_range_end": until,
        }
        partition_key = None
    _say(f"→ running {label} …")
    # Step logs go to the run's event log (visible in the UI); the terminal gets a summary.
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    result = job.execute_in_process(
        run_config=quiet,
        instance=instance,
        partition_key=partition_key,
        tags=tags,
        raise_on_error=False,
    )
    if not result.success:
        for event in result.all_events:
            if event.is_failure and event.step_failure_data:
                _say(f"  ✗ {event.step_key}: {event.step_failure_data.error.message.strip()}")
        raise SystemExit(f"qbpa demo: {label} failed (run {result.run_id}).")
    _say(f"  ✓ {label} succeeded (run {result.run_id})")
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the whole demo; exit non-zero when a flow fails."""
    parser = argparse.ArgumentParser(prog="qbpa demo", description=__doc__)
    parser.add_argument(
        "--data-dir", help="where results go (default: $QBPA_DATA_DIR/demo or ./var/demo)"
    )
    for size, default in DEMO_COMPANY.items():
        parser.add_argument(f"--{size}", type=int, default=default)
    parser.add_argument("--orders", type=int, default=DEMO_ORDERS)
    args = parser.parse_args(argv)

    data_dir = _data_dir(args.data_dir)
    _reset(data_dir)
    from qbpa_assets.sandbox.company import generate_company
    from qbpa_assets.sandbox.emulator import Emulator

    company = generate_company(**{size: getattr(args, size) for size in DEMO_COMPANY})
    _say(f"qbpa demo — data folder {data_dir}")
    with Emulator(company=company, port=0, workdir=data_dir / "sandbox") as emu:
        _say(f"QuickBooks Online emulator on {emu.base_url}")
        db_connection = _create_demo_db(data_dir, company, args.orders)
        env = demo_environment(data_dir, emu.env(), db_connection, DEMO_REP_SOURCE)
        os.environ.update(env)
        defs, instance = _load_defs_and_instance()
        yesterday = (date.today() - timedelta(days=1)).isoformat()
        # The custom field's reps are its values on the landed invoices: land the company's
        # invoices first (its past days, in one run), then the master data and its reps.
        first_day = (date.today() - timedelta(days=max(1, args.days))).isoformat()
        _run_job(defs, instance, "nightly_invoice_job", first_day, until=yesterday)
        _run_job(defs, instance, "nightly_master_data_job")
        order_days = sorted({(date.today() - timedelta(days=d)).isoformat() for d in range(3)})
        for day in order_days:
            _run_job(defs, instance, "sales_order_import_job", day)
        # An office user invoices one Estimate in QuickBooks; the status run shows it.
        estimates = emu.entities("Estimate")
        if estimates:
            emu.convert_estimate(estimates[0]["Id"])
        _run_job(defs, instance, "order_status_job")
        _summary(data_dir, emu, db_connection)
    return 0


def _summary(data_dir: Path, emu, db_connection: str | None = None) -> None:
    import duckdb

    remote = data_dir / "inventiv_ftp" / f"latest{DEMO_ACCOUNT_ID}"
    _say()
    _say("Results")
    for name in ("customer.fil", "item.fil", "invoice.fil", "vendor.fil", "salesrep.fil"):
        path = remote / name
        lines = sum(1 for _ in path.open("rb")) - 1 if path.exists() else 0
        _say(f"  {path}  ({lines} rows)")
    _say(f"  local copies: {data_dir / 'exports'}")
    con = duckdb.connect(str(data_dir / "qbpa.duckdb"), read_only=True)
    try:
        counts = dict(
            con.execute(
                "SELECT status, count(*) FROM quickbooks.sales_orders GROUP BY status"
            ).fetchall()
        )
        rejects = con.execute(
            "SELECT order_no, reasons FROM quickbooks.sales_orders WHERE status = 'rejected' "
            "ORDER BY order_no"
        ).fetchall()
    finally:
        con.close()
    _say(
        f"  sales orders: {counts.get('created', 0)} created, {counts.get('adopted', 0)} adopted,"
        f" {counts.get('rejected', 0)} rejected  (ledger: quickbooks.sales_orders in "
        f"{data_dir / 'qbpa.duckdb'})"
    )
    for order_no, reasons in rejects:
        text = "; ".join(reasons) if isinstance(reasons, list) else str(reasons)
        _say(f"    rejected {order_no}: {text}")
    estimates = emu.entities("Estimate")
    _say(f"  Estimates now in the emulator: {len(estimates)}")
    _rep_summary(estimates)
    if db_connection:
        _order_status_summary(db_connection)
    _say()
    _say("Open the Dagster UI on a sandbox like this one with: make dev (in var/dev; these")
    _say("results stay). `make check` checks your own company's settings (qbpa.env), not these.")


def _rep_summary(estimates: list[dict]) -> None:
    """How the order's rep travels: the Estimates' custom field, as the emulator holds them."""
    values: dict[str, int] = {}
    for est in estimates:
        for field in est.get("CustomField") or []:
            if field.get("Name") == DEMO_REP_FIELD and field.get("StringValue"):
                values[field["StringValue"]] = values.get(field["StringValue"], 0) + 1
    _say(
        f"  sales rep on the Estimates ({os.environ.get('QBPA_SALES_REP_SOURCE', 'employee')}): "
        f"{sum(values.values())} of {len(estimates)} carry the {DEMO_REP_FIELD!r} custom field"
        + (" — " + ", ".join(f"{v} {n}" for v, n in sorted(values.items())) if values else "")
    )


def _order_status_summary(db_connection: str) -> None:
    """What PocketAdvantage users see: the QBPA_ORDER_STATUS table in the Inventiv database."""
    import pyodbc

    conn = pyodbc.connect(db_connection, autocommit=True)
    try:
        cur = conn.cursor()
        counts = cur.execute(
            "SELECT STATUS, COUNT(*) FROM QBPA_ORDER_STATUS GROUP BY STATUS ORDER BY STATUS"
        ).fetchall()
        sample = cur.execute(
            "SELECT ORDER_ID, STATUS, QBO_DOC_NUMBER, INVOICE_DOC_NUMBER, MESSAGE "
            "FROM QBPA_ORDER_STATUS ORDER BY CASE STATUS WHEN 'created' THEN 1 ELSE 0 END, "
            "ORDER_ID LIMIT 6"
        ).fetchall()
    finally:
        conn.close()
    _say(
        "  order status in the Inventiv database (QBPA_ORDER_STATUS): "
        + ", ".join(f"{n} {status}" for status, n in counts)
    )
    for order_id, status, doc, invoice, message in sample:
        detail = f" → Invoice {invoice}" if invoice else ""
        _say(f"    order {order_id}: {status} {doc or ''}{detail} {(message or '')[:80]}".rstrip())


def instance_yaml_main(argv: list[str] | None = None) -> int:
    """Print the local ``dagster.yaml`` (telemetry off, the ``duckdb`` pool limited to 1)."""
    from qbpa_assets.lib.instance import local_instance_yaml

    sys.stdout.write(local_instance_yaml())
    return 0
