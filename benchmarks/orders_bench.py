"""Order import benchmark: our batched, exactly-once import vs one request per order.

    python -m benchmarks.orders_bench [--orders 5000 --lines 5]

The parent process generates a sample company, serves it with the bundled QBO emulator (HTTPS,
real OAuth) and writes the orders into a SQLite Inventiv database reached through the real
unixODBC ``SQLite3`` driver. Each side then runs in its own subprocess (so peak RSS is per
side), reading the same orders through ODBC into DuckDB and validating + mapping them with the
same code; only the way they are sent differs:

* **ours**: ``orders.import_orders`` — DocNumber look-up (50 per query), ``batch`` requests of
  30 creates with deterministic requestids, ledger written after each batch;
* **naive**: ``client.create`` once per order (the classic integration loop).

The sides use different DocNumber prefixes, so duplicates are counted per side from the
emulator's Estimates afterwards. A third row re-runs ours on the same window (the retry case).

QuickBooks' published limits (500 requests/min, 40 batch requests/min per company) are applied
analytically in the "min time under QBO limits" column; the client-side limiter is lifted for
the measured wall time (the emulator does not throttle here), otherwise the naive side would
spend ten minutes waiting by design.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

DAY = date(2026, 11, 20)
SEED = 7


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _lift_client_pacing() -> None:
    from qbpa_assets.lib.quickbooks import ratelimit as client_module

    client_module.REQUESTS_PER_MINUTE = 10**9
    client_module.BATCH_REQUESTS_PER_MINUTE = 10**9


def _stage(con, workdir: Path) -> None:
    """Minimal staging.customers / staging.items from the company's JSON (what validation reads)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    for table, file, cols in (
        ("customers", "customers.json", "j ->> 'Id' AS id, j ->> 'DisplayName' AS display_name"),
        (
            "items",
            "items.json",
            "j ->> 'Id' AS id, j ->> 'Name' AS name, j ->> 'Type' AS type, "
            "CAST(j ->> 'UnitPrice' AS DOUBLE) AS unit_price",
        ),
    ):
        con.execute(
            f"CREATE OR REPLACE TABLE staging.{table} AS SELECT {cols}, "
            "coalesce(CAST(j ->> 'Active' AS BOOLEAN), true) AS active "
            "FROM (SELECT unnest(CAST(json(content) AS JSON[])) AS j FROM read_text(?))",
            [str(workdir / file)],
        )


def run_side(side: str, workdir: Path, conn_str: str) -> dict:
    """One side, in its own process; returns its figures."""
    import duckdb

    from qbpa_assets.lib.inventiv.db import InventivDb
    from qbpa_assets.lib.orders.copy import copy_orders
    from qbpa_assets.lib.orders.importer import import_orders
    from qbpa_assets.lib.orders.mapping import load_order_mapping
    from qbpa_assets.lib.orders.payloads import build_payloads
    from qbpa_assets.lib.orders.validate import validate_orders
    from qbpa_assets.lib.orders.window import order_sort_key
    from qbpa_assets.lib.quickbooks.client import QboClient
    from qbpa_assets.lib.quickbooks.settings import QboSettings

    _lift_client_pacing()
    settings = QboSettings.from_env(data_dir=workdir)
    # The re-run uses the same DuckDB file as ours: its ledger is the point.
    con = duckdb.connect(str(workdir / f"{side.split('-')[0]}.duckdb"))
    _stage(con, workdir)
    end = DAY + timedelta(days=1)
    start = end - timedelta(days=3)
    out: dict = {"side": side}
    t0 = time.perf_counter()
    with QboClient(settings) as client:
        with InventivDb(conn_str) as db:
            copied = copy_orders(db, con, start, end)
        out["orders"] = copied.orders
        if side.startswith("ours"):
            result = import_orders(con, client, start, end)
            out["created"] = len(result.created) + len(result.adopted)
            out["rejected"] = len(result.rejected)
            out["batches"] = result.batches
        else:
            mapping = load_order_mapping()
            invalid = validate_orders(con, start, end)
            ids = [
                r[0]
                for r in con.execute(
                    "SELECT order_id FROM inventiv_db.orders WHERE order_date >= ?"
                    " AND order_date < ?",
                    [start, end],
                ).fetchall()
                if r[0] not in invalid
            ]
            payloads = build_payloads(con, mapping, ids)
            created = 0
            for order_id in sorted(ids, key=order_sort_key):
                client.create("Estimate", payloads[order_id], request_id=f"naive-{order_id}")
                created += 1
            out["created"] = created
            out["rejected"] = len(invalid)
            out["batches"] = 0
        out["requests"] = int(client.stats.get("requests", 0))
    out["wall_s"] = time.perf_counter() - t0
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def _make_db(path: Path, company, n_orders: int, n_lines: int, prefix: str) -> str:
    import pyodbc

    from qbpa_assets.sandbox.inventiv_demo import (
        create_schema,
        generate_orders,
        insert_orders,
        sqlite_connection_string,
    )

    conn_str = sqlite_connection_string(path)
    demo = generate_orders(
        company,
        orders=n_orders,
        invalid=0,
        days=3,
        seed=SEED,
        end_date=DAY,
        lines_per_order=(n_lines, n_lines),
    )
    for order in demo:
        order.order_no = f"{prefix}{order.order_id:06d}"
    conn = pyodbc.connect(conn_str, autocommit=True)
    try:
        create_schema(conn)
        insert_orders(conn, demo)
    finally:
        conn.close()
    return conn_str


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--side", choices=["ours", "ours-rerun", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--conn", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        sys.stdout.write(json.dumps(run_side(args.side, args.workdir, args.conn)) + "\n")
        return 0

    from qbpa_assets.sandbox.company import generate_company
    from qbpa_assets.sandbox.emulator import Emulator

    workdir = Path(tempfile.mkdtemp(prefix="qbpa-orders-bench-"))
    company = generate_company(
        customers=300, items=120, invoices=10, days=5, seed=SEED, end_date=DAY
    )
    (workdir / "customers.json").write_text(json.dumps(company.customers))
    (workdir / "items.json").write_text(json.dumps(company.items))
    t0 = time.perf_counter()
    ours_db = _make_db(workdir / "ours.db", company, args.orders, args.lines, "B")
    naive_db = _make_db(workdir / "naive.db", company, args.orders, args.lines, "N")
    setup_s = time.perf_counter() - t0
    rows = []
    with Emulator(company=company, workdir=workdir / "emu") as emu:
        env = {**os.environ, **emu.env(), "QBPA_DATA_DIR": str(workdir)}
        for side, conn_str in (("ours", ours_db), ("ours-rerun", ours_db), ("naive", naive_db)):
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.orders_bench",
                    "--side",
                    side,
                    "--workdir",
                    str(workdir),
                    "--conn",
                    conn_str,
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                return 1
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        docs = emu.entities("Estimate")
    for row in rows:
        prefix = "N" if row["side"] == "naive" else "B"
        numbers = [
            d.get("DocNumber", "") for d in docs if str(d.get("DocNumber", "")).startswith(prefix)
        ]
        row["in_qbo"] = len(numbers)
        row["duplicates"] = len(numbers) - len(set(numbers))
        # QBO's published limits: 500 requests/min and 40 batch requests/min per company.
        row["min_s"] = 60.0 * max(row["requests"] / 500.0, row["batches"] / 40.0)

    print(f"\n{args.orders} orders x {args.lines} lines; ODBC databases built in {setup_s:.1f}s\n")
    header = (
        f"{'side':<11} {'created':>8} {'API req':>8} {'batches':>8} "
        f"{'min time under QBO limits':>26} {'wall':>8} {'peak RSS':>9} {'dups':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['side']:<11} {r['created']:>8} {r['requests']:>8} {r['batches']:>8} "
            f"{r['min_s']:>25.0f}s {r['wall_s']:>7.1f}s {r['peak_rss_mb']:>7.0f}MB "
            f"{r['duplicates']:>5}"
        )
    ours, naive = rows[0], rows[2]
    print(
        f"\nAPI requests: naive/ours = {naive['requests'] / max(1, ours['requests']):.1f}x; "
        f"min time under QBO limits: {naive['min_s'] / max(1e-9, ours['min_s']):.1f}x"
    )
    return 0 if all(r["duplicates"] == 0 for r in rows) else 2


if __name__ == "__main__":
    sys.exit(main())
