"""Nightly export benchmark: raw QBO JSON in DuckDB → staged tables → customer.fil + invoice.fil.

Three sides, each run in its own subprocess on its own copy of the same raw tables (so the peak
RSS reported is that side's ``ru_maxrss``, and staged tables of one never help another):

* **ours** — the production path: the warehouse resource's connection
  (`WarehouseResource.get_connection`: time zone, memory limit, temp directory), then what the
  staging and export assets run: refresh the staged customers, write ``customer.fil``, refresh
  the staged invoice lines of the window, write ``invoice.fil`` (default layouts, ``write_fil``,
  the asset's row count);
* **reference** — the floor for this architecture, plain DuckDB with the same settings: each
  raw table → a minimal persisted staged table of the columns the file needs (one
  ``json_transform`` with only those keys) → one ``COPY`` that cleans the free-text columns,
  formats dates and sorts (the raw tables are in upsert order, not id order, as in production);
* **naive** — a straightforward Python integration: python-quickbooks objects
  (``Customer.from_json`` / ``Invoice.from_json``) written with the ``csv`` module (fewer columns,
  same cleaning); left out with ``--skip-naive``.

Per size: one untimed warm-up of each side, then ``--rounds`` rounds with the order of the sides
rotating, the ratio ours/reference per round, medians, and a byte-identity check of ours' files
against the reference's. Times are measured inside each child from opening DuckDB to the last
file closed (interpreter start and imports excluded, for every side alike). The last lines are
one summary per size, e.g. ``export 1000000 lines: ours/reference 1.24x, ours 3.61 s, peak RSS
842 MB``.

Usage::

    .venv/bin/python -m benchmarks.export_bench                       # 100k, 1M, 2M lines
    .venv/bin/python -m benchmarks.export_bench --sizes 1000000 --skip-naive
    .venv/bin/python -m benchmarks.export_bench --sizes 100000 --customers 10000 --rounds 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from benchmarks import export_naive, export_reference
from qbpa_assets.lib.warehouse import raw

START = datetime(2000, 1, 1, tzinfo=UTC)
END = datetime(2100, 1, 1, tzinfo=UTC)
SIDES = ("ours", "reference", "naive")
DB_FILE = "qbpa.duckdb"  # the warehouse resource's file name inside its data_dir

# ------------------------------------------------------------------------------ generation
# The raw tables are the production ones (raw.RAW_TABLES_DDL, zstd payloads). Rows are inserted
# in a hashed order, as upserts leave a production raw table: no side may rely on the raw table
# being in id order. Some values carry tabs, CR/LF and outer blanks so that cleaning is
# exercised; some invoices are paid.
GEN_CUSTOMERS = """
INSERT INTO quickbooks.customers
SELECT CAST(i AS VARCHAR) AS id, '0' AS sync_token,
       TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_seconds(i % 86400) AS last_updated,
       i % 10 <> 0 AS active,
       CAST(to_json({
         'Id': CAST(i AS VARCHAR), 'SyncToken': '0',
         'DisplayName': 'Customer ' || i || CASE WHEN i % 97 = 0 THEN e'\\tTab "q"' ELSE '' END,
         'CompanyName': 'Company ' || i || ' GmbH' || CASE WHEN i % 89 = 0 THEN ' ' ELSE '' END,
         'GivenName': 'Given' || i, 'FamilyName': 'Family' || i,
         'PrimaryEmailAddr': {'Address': 'c' || i || '@example.com'},
         'PrimaryPhone': {'FreeFormNumber':
                          '(555) 555-' || lpad(CAST(i % 10000 AS VARCHAR), 4, '0')},
         'BillAddr': {'Id': CAST(i AS VARCHAR), 'Line1': i || ' Main Street', 'City': 'Springfield',
                      'CountrySubDivisionCode': 'CA',
                      'PostalCode': '9' || lpad(CAST(i % 10000 AS VARCHAR), 4, '0'),
                      'Country': 'USA'},
         'ShipAddr': {'Id': CAST(i AS VARCHAR), 'Line1': i || ' Dock Road', 'City': 'Shelbyville',
                      'CountrySubDivisionCode': 'CA', 'PostalCode': '90210', 'Country': 'USA'},
         'SalesTermRef': {'value': '3', 'name': 'Net 30'},
         'Taxable': i % 3 = 0, 'Balance': round((i % 1000) * 1.25, 2), 'BalanceWithJobs': 0.0,
         'Active': i % 10 <> 0, 'Job': false,
         'CurrencyRef': {'value': 'USD', 'name': 'United States Dollar'},
         'MetaData': {'CreateTime': '2023-01-05T09:00:00-08:00',
                      'LastUpdatedTime': '2024-03-01T10:00:00-08:00'}
       }) AS JSON) AS payload
FROM range(1, $n + 1) t(i)
ORDER BY hash(i)
"""

GEN_INVOICES = """
INSERT INTO quickbooks.invoices
SELECT CAST(i AS VARCHAR) AS id, '0' AS sync_token,
       TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_seconds(i % 86400) AS last_updated,
       DATE '2024-03-01' AS txn_date, false AS deleted,
       CAST(to_json({
         'Id': CAST(i AS VARCHAR), 'SyncToken': '0', 'DocNumber': CAST(100000 + i AS VARCHAR),
         'TxnDate': '2024-03-01', 'DueDate': '2024-03-31',
         'CustomerRef': {'value': CAST(1 + i % $customers AS VARCHAR),
                         'name': 'Customer ' || (1 + i % $customers)},
         'SalesTermRef': {'value': '3', 'name': 'Net 30'},
         'TotalAmt': 5 * 150.0, 'Balance': CASE WHEN i % 4 = 0 THEN 0 ELSE 5 * 150.0 END,
         'TxnTaxDetail': {'TotalTax': 0},
         'BillAddr': {'Line1': i || ' Main Street', 'City': 'Springfield', 'PostalCode': '90210'},
         'ShipAddr': {'Line1': i || ' Dock Road', 'City': 'Shelbyville', 'PostalCode': '90210'},
         'CustomerMemo': {'value': 'Thank you for your business'},
         'MetaData': {'CreateTime': '2024-03-01T09:00:00-08:00',
                      'LastUpdatedTime': '2024-03-01T10:00:00-08:00'},
         'Line': list_transform(range(1, $lines + 1), lambda n: {
             'Id': CAST(n AS VARCHAR), 'LineNum': n,
             'Description': 'Item ' || ((i * 7 + n) % 500) || ' description'
                            || CASE WHEN (i + n) % 101 = 0 THEN e'\\r\\nsecond line ' ELSE '' END,
             'Amount': 150.0, 'DetailType': 'SalesItemLineDetail',
             'SalesItemLineDetail': {'ItemRef': {'value': CAST(1 + (i * 7 + n) % 500 AS VARCHAR),
                                                 'name': 'Item ' || (1 + (i * 7 + n) % 500)},
                                     'UnitPrice': 75, 'Qty': 2,
                                     'TaxCodeRef': {'value': 'NON'}}})
       }) AS JSON) AS payload
FROM range(1, $n + 1) t(i)
ORDER BY hash(i)
"""


def generate(db: Path, invoices: int, lines: int, customers: int) -> float:
    """Create the raw tables in ``db``; return seconds taken."""
    started = time.perf_counter()
    con = duckdb.connect(str(db))
    raw.ensure_schema(con)  # the production raw tables (zstd payloads), filled below
    con.execute(GEN_CUSTOMERS, {"n": customers})
    con.execute(GEN_INVOICES, {"n": invoices, "customers": customers, "lines": lines})
    con.close()
    return time.perf_counter() - started


# ------------------------------------------------------------------------------------ ours
def _staging_modules():
    """The production staging functions (customers, invoice lines)."""
    from qbpa_assets.lib.invoices import staging as invoices
    from qbpa_assets.lib.master_data import staging as customers

    return customers, invoices


def run_ours(data_dir: Path, out: Path) -> dict:
    """The production path: the warehouse resource's connection and what the assets run."""
    from qbpa_assets.defs.resources import resource_values
    from qbpa_assets.defs.resources.warehouse import WarehouseResource
    from qbpa_assets.lib.mappings import load_layout
    from qbpa_assets.lib.warehouse.filwriter import write_fil

    customers, invoices = _staging_modules()
    # Built as the Definitions build it (declared defaults, QBPA_DUCKDB_MEMORY_LIMIT when set).
    values = resource_values("warehouse", resolved=True)
    warehouse = WarehouseResource(**{**values, "data_dir": str(data_dir)})
    cust_layout, inv_layout = load_layout("customer.fil"), load_layout("invoice.fil")
    started, cpu_started = time.perf_counter(), time.process_time()
    with warehouse.get_connection() as con:
        settings = dict(
            con.execute(
                "SELECT name, value FROM duckdb_settings() "
                "WHERE name IN ('memory_limit', 'temp_directory', 'threads', 'TimeZone')"
            ).fetchall()
        )
        # staging/customers, then inventiv_ftp/customer_fil (validate, write, count).
        customers.refresh_customers(con)
        cust_layout.validate(con)
        cust = write_fil(con, cust_layout, out / "customer.fil")
        con.execute(f"SELECT count(*) FROM {cust_layout.source}").fetchone()
        # staging/invoice_lines, then inventiv_ftp/invoice_fil for the same window.
        invoices.refresh_invoice_lines(con, START, END)
        where = inv_layout.window_where()
        inv_layout.validate(con)
        inv = write_fil(con, inv_layout, out / "invoice.fil", where=where, params=[START, END])
        con.execute(f"SELECT count(*) FROM {inv_layout.source} WHERE {where}", [START, END])
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu": time.process_time() - cpu_started,
        "customer_rows": cust.rows,
        "invoice_rows": inv.rows,
        "settings": settings,
    }


# ---------------------------------------------------------------------------------- driver
def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def _child(mode: str, data_dir: Path, out: Path, memory_limit: str | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if mode == "ours":
        result = run_ours(data_dir, out)
    elif mode == "reference":
        result = export_reference.run(data_dir / DB_FILE, out, START, END, memory_limit)
    else:
        result = export_naive.run(data_dir / DB_FILE, out, START, END)
    result["sha256"] = {p.name: _sha256(p) for p in sorted(out.glob("*.fil"))}
    result["bytes"] = sum(p.stat().st_size for p in out.glob("*.fil"))
    sys.stdout.write(json.dumps(result) + "\n")


def _measure(mode: str, raw_db: Path, work: Path, memory_limit: str | None) -> dict:
    """Run one side in a fresh subprocess on a fresh copy of the raw tables."""
    data_dir, out = work / f"data-{mode}", work / f"out-{mode}"
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    data_dir.mkdir(parents=True)
    shutil.copyfile(raw_db, data_dir / DB_FILE)
    cmd = [sys.executable, "-m", "benchmarks.export_bench", "--child", mode]
    cmd += ["--data-dir", str(data_dir), "--out", str(out)]
    if memory_limit:
        cmd += ["--child-memory-limit", memory_limit]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{mode} failed with exit code {os.waitstatus_to_exitcode(status)}")
    result = json.loads(output.decode().strip().splitlines()[-1])
    result.update(wall=wall, peak_rss_mb=usage.ru_maxrss / 1024)  # ru_maxrss is KiB on Linux
    shutil.rmtree(data_dir, ignore_errors=True)
    return result


def _bench_size(args: argparse.Namespace, lines: int, work: Path) -> dict:
    invoices = lines // args.lines_per_invoice
    raw_db = work / "raw.duckdb"
    raw_db.unlink(missing_ok=True)
    # Generated in a child process: a child's ru_maxrss starts at its parent's RSS when it is
    # forked, so a parent grown by DuckDB's generation would inflate every side's peak RSS.
    started = time.perf_counter()
    gen_args = [str(raw_db), str(invoices), str(args.lines_per_invoice), str(args.customers)]
    subprocess.run(
        [sys.executable, "-m", "benchmarks.export_bench", "--generate", *gen_args],
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    gen = time.perf_counter() - started
    print(
        f"\n## {lines:,} invoice lines ({invoices:,} invoices x {args.lines_per_invoice}) + "
        f"{args.customers:,} customers: generated in {gen:.1f} s, "
        f"{raw_db.stat().st_size / 1e6:.0f} MB raw DuckDB file",
        flush=True,
    )
    sides = [s for s in SIDES if not (args.skip_naive and s == "naive")]
    # Warm-up (untimed): page cache, .pyc files; ours also tells which DuckDB settings the
    # production connection applies, so that the reference runs with the same memory limit.
    warm = {side: _measure(side, raw_db, work, None) for side in ("ours", "reference")}
    settings = warm["ours"]["settings"]
    limit = settings.get("memory_limit")
    print(f"ours' DuckDB settings (the reference uses the same memory limit): {settings}")
    print()
    print(
        "| round | order | ours s | reference s | ratio | ours CPU s | reference CPU s "
        "| ours RSS MB | reference RSS MB |"
        + (" naive s | naive RSS MB |" if "naive" in sides else "")
        + " identical |"
    )
    print(
        "|---|---|---:|---:|---:|---:|---:|---:|---:|"
        + ("---:|---:|" if "naive" in sides else "")
        + "---|"
    )
    rounds = []
    for n in range(args.rounds):
        order = sides[n % len(sides) :] + sides[: n % len(sides)]
        res = {side: _measure(side, raw_db, work, limit) for side in order}
        o, r = res["ours"], res["reference"]
        identical = o["sha256"] == r["sha256"]
        rows_ok = (o["customer_rows"], o["invoice_rows"]) == (r["customer_rows"], r["invoice_rows"])
        ratio = o["seconds"] / r["seconds"]
        cpu_ratio = o["cpu"] / r["cpu"]
        rounds.append(
            {"ratio": ratio, "cpu_ratio": cpu_ratio, "res": res, "identical": identical and rows_ok}
        )
        naive = (
            f" {res['naive']['seconds']:.2f} | {res['naive']['peak_rss_mb']:.0f} |"
            if "naive" in res
            else ""
        )
        print(
            f"| {n + 1} | {', '.join(order)} | {o['seconds']:.2f} | {r['seconds']:.2f} | "
            f"{ratio:.2f}x | {o['cpu']:.2f} | {r['cpu']:.2f} | "
            f"{o['peak_rss_mb']:.0f} | {r['peak_rss_mb']:.0f} |{naive} "
            f"{'yes' if identical else 'NO'} |",
            flush=True,
        )
        if not identical:
            for name, digest in o["sha256"].items():
                if r["sha256"].get(name) != digest:
                    print(
                        f"  {name} differs: diff {work}/out-ours/{name} {work}/out-reference/{name}"
                    )
    med = {side: statistics.median(x["res"][side]["seconds"] for x in rounds) for side in sides}
    summary = {
        "lines": lines,
        "ratio": statistics.median(x["ratio"] for x in rounds),
        "cpu_ratio": statistics.median(x["cpu_ratio"] for x in rounds),
        "ours": med["ours"],
        "reference": med["reference"],
        "naive": med.get("naive"),
        "rss": max(x["res"]["ours"]["peak_rss_mb"] for x in rounds),
        "ref_rss": max(x["res"]["reference"]["peak_rss_mb"] for x in rounds),
        "identical": all(x["identical"] for x in rounds),
        "invoice_rows": rounds[-1]["res"]["ours"]["invoice_rows"],
    }
    print(
        f"median: ours {summary['ours']:.2f} s, reference {summary['reference']:.2f} s"
        + (f", naive {summary['naive']:.2f} s" if summary["naive"] else "")
        + f"; ours/reference {summary['ratio']:.2f}x (CPU time {summary['cpu_ratio']:.2f}x); "
        f"files identical: {summary['identical']}"
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark at each size and print the tables and the summary lines."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--sizes", default="100000,1000000,2000000", help="invoice lines, comma-separated"
    )
    p.add_argument("--lines-per-invoice", type=int, default=5)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--skip-naive", action="store_true", help="leave the naive baseline out")
    p.add_argument("--workdir", type=Path, default=None, help="keep the files here")
    p.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    p.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--child-memory-limit", help=argparse.SUPPRESS)
    p.add_argument("--generate", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.generate:
        db, invoices, lines, customers = args.generate
        generate(Path(db), int(invoices), int(lines), int(customers))
        return 0
    if args.child:
        _child(args.child, args.data_dir, args.out, args.child_memory_limit)
        return 0

    print(
        f"export benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"DuckDB {duckdb.__version__}, {args.rounds} rounds"
        + ("" if args.skip_naive else ", naive included")
    )
    with tempfile.TemporaryDirectory(prefix="qbpa-export-bench-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        summaries = [_bench_size(args, int(s), work) for s in args.sizes.split(",")]
    print()
    for s in summaries:
        print(
            f"export {s['lines']} lines: ours/reference {s['ratio']:.2f}x, "
            f"ours {s['ours']:.2f} s, peak RSS {s['rss']:.0f} MB"
        )
    return 0 if all(s["identical"] for s in summaries) else 1


if __name__ == "__main__":
    raise SystemExit(main())
