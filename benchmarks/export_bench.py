"""Nightly export benchmark: raw QBO JSON in DuckDB → customer.fil + invoice.fil.

Compares, side by side in one run, each in its own subprocess (wall time and peak RSS):

* **ours** — `qbpa_assets.lib.warehouse.staging` SQL (one ``json_transform`` per document) then
  `qbpa_assets.lib.warehouse.filwriter.write_fil` (one DuckDB ``COPY`` per file);
* **naive** — what a straightforward Python integration does: fetch the JSON, build
  python-quickbooks objects (``Customer.from_json`` / ``Invoice.from_json``), walk them and write
  rows with the ``csv`` module (same columns, same cleaning).

The raw tables are generated with DuckDB SQL in a few seconds (QBO-shaped payloads: nested
``Line`` arrays with ``SalesItemLineDetail``, addresses, refs, ``MetaData``).

Usage::

    .venv/bin/python -m benchmarks.export_bench                       # full size: 200k x 5
    .venv/bin/python -m benchmarks.export_bench --invoices 20000 --customers 10000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

START = datetime(2000, 1, 1, tzinfo=UTC)
END = datetime(2100, 1, 1, tzinfo=UTC)

# ------------------------------------------------------------------------------ generation
GEN_CUSTOMERS = """
CREATE OR REPLACE TABLE quickbooks.customers AS
SELECT CAST(i AS VARCHAR) AS id, '0' AS sync_token,
       TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_seconds(i % 86400) AS last_updated,
       i % 10 <> 0 AS active,
       CAST(to_json({
         'Id': CAST(i AS VARCHAR), 'SyncToken': '0',
         'DisplayName': 'Customer ' || i || CASE WHEN i % 97 = 0 THEN e'\\tTab "q"' ELSE '' END,
         'CompanyName': 'Company ' || i || ' GmbH',
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
"""

GEN_INVOICES = """
CREATE OR REPLACE TABLE quickbooks.invoices AS
SELECT CAST(i AS VARCHAR) AS id, '0' AS sync_token,
       TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_seconds(i % 86400) AS last_updated,
       DATE '2024-03-01' AS txn_date, false AS deleted,
       CAST(to_json({
         'Id': CAST(i AS VARCHAR), 'SyncToken': '0', 'DocNumber': CAST(100000 + i AS VARCHAR),
         'TxnDate': '2024-03-01', 'DueDate': '2024-03-31',
         'CustomerRef': {'value': CAST(1 + i % $customers AS VARCHAR),
                         'name': 'Customer ' || (1 + i % $customers)},
         'SalesTermRef': {'value': '3', 'name': 'Net 30'},
         'TotalAmt': 5 * 150.0, 'Balance': 5 * 150.0, 'TxnTaxDetail': {'TotalTax': 0},
         'BillAddr': {'Line1': i || ' Main Street', 'City': 'Springfield', 'PostalCode': '90210'},
         'ShipAddr': {'Line1': i || ' Dock Road', 'City': 'Shelbyville', 'PostalCode': '90210'},
         'CustomerMemo': {'value': 'Thank you for your business'},
         'MetaData': {'CreateTime': '2024-03-01T09:00:00-08:00',
                      'LastUpdatedTime': '2024-03-01T10:00:00-08:00'},
         'Line': list_transform(range(1, $lines + 1), lambda n: {
             'Id': CAST(n AS VARCHAR), 'LineNum': n,
             'Description': 'Item ' || ((i * 7 + n) % 500) || ' description',
             'Amount': 150.0, 'DetailType': 'SalesItemLineDetail',
             'SalesItemLineDetail': {'ItemRef': {'value': CAST(1 + (i * 7 + n) % 500 AS VARCHAR),
                                                 'name': 'Item ' || (1 + (i * 7 + n) % 500)},
                                     'UnitPrice': 75, 'Qty': 2,
                                     'TaxCodeRef': {'value': 'NON'}}})
       }) AS JSON) AS payload
FROM range(1, $n + 1) t(i)
"""


def generate(db: Path, invoices: int, lines: int, customers: int) -> float:
    """Create the raw tables in ``db``; return seconds taken."""
    started = time.perf_counter()
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA IF NOT EXISTS quickbooks")
    con.execute(GEN_CUSTOMERS, {"n": customers})
    con.execute(GEN_INVOICES, {"n": invoices, "customers": customers, "lines": lines})
    con.close()
    return time.perf_counter() - started


# ------------------------------------------------------------------------------------ ours
def run_ours(db: Path, out: Path) -> dict:
    """Staging SQL + write_fil, as the nightly assets run them."""
    from qbpa_assets.lib.invoices.staging import refresh_invoice_lines
    from qbpa_assets.lib.mappings import load_layout
    from qbpa_assets.lib.master_data.staging import refresh_customers
    from qbpa_assets.lib.warehouse.filwriter import write_fil

    con = duckdb.connect(str(db))
    # The same knob as the warehouse resource: DuckDB's buffer pool cap (default 80 % of RAM).
    if limit := os.environ.get("QBPA_DUCKDB_MEMORY_LIMIT"):
        con.execute("SET memory_limit = ?", [limit])
    refresh_customers(con)
    refresh_invoice_lines(con, START, END)
    cust = write_fil(con, load_layout("customer.fil"), out / "customer.fil")
    inv_layout = load_layout("invoice.fil")
    inv = write_fil(
        con, inv_layout, out / "invoice.fil", where=inv_layout.window_where(), params=[START, END]
    )
    con.close()
    return {"customer_rows": cust.rows, "invoice_rows": inv.rows, "bytes": cust.bytes + inv.bytes}


# ----------------------------------------------------------------------------------- naive
_BREAKS = re.compile(r"[\t\r\n]+")


def _clean(value: object) -> str:
    if value is None:
        return ""
    return _BREAKS.sub(" ", str(value)).strip()


def _g(obj: object, *path: str) -> object:
    for name in path:
        obj = getattr(obj, name, None) if obj is not None else None
    return obj


def run_naive(db: Path, out: Path) -> dict:
    """python-quickbooks objects per entity + csv module: the baseline."""
    from quickbooks.objects.customer import Customer
    from quickbooks.objects.invoice import Invoice

    con = duckdb.connect(str(db), read_only=True)
    kw = {
        "delimiter": "\t",
        "lineterminator": "\r\n",
        "quoting": csv.QUOTE_NONE,
        "escapechar": None,
        "quotechar": None,
    }
    cust_rows = inv_rows = 0
    with (out / "customer.fil").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, **kw)
        w.writerow(
            [
                "CUSTOMER_ID",
                "CUSTOMER_NAME",
                "COMPANY_NAME",
                "FIRST_NAME",
                "LAST_NAME",
                "EMAIL",
                "PHONE",
                "BILL_ADDR1",
                "BILL_CITY",
                "BILL_STATE",
                "BILL_ZIP",
                "SHIP_ADDR1",
                "SHIP_CITY",
                "TERMS",
                "BALANCE",
                "ACTIVE",
            ]
        )
        cur = con.execute(
            "SELECT payload FROM quickbooks.customers ORDER BY TRY_CAST(id AS BIGINT)"
        )
        while batch := cur.fetchmany(10_000):
            for (payload,) in batch:
                c = Customer.from_json(json.loads(payload))
                w.writerow(
                    [
                        _clean(x)
                        for x in (
                            c.Id,
                            c.DisplayName,
                            c.CompanyName,
                            c.GivenName,
                            c.FamilyName,
                            _g(c, "PrimaryEmailAddr", "Address"),
                            _g(c, "PrimaryPhone", "FreeFormNumber"),
                            _g(c, "BillAddr", "Line1"),
                            _g(c, "BillAddr", "City"),
                            _g(c, "BillAddr", "CountrySubDivisionCode"),
                            _g(c, "BillAddr", "PostalCode"),
                            _g(c, "ShipAddr", "Line1"),
                            _g(c, "ShipAddr", "City"),
                            _g(c, "SalesTermRef", "name"),
                            c.Balance,
                            "Y" if c.Active else "N",
                        )
                    ]
                )
                cust_rows += 1
    with (out / "invoice.fil").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, **kw)
        w.writerow(
            [
                "INVOICE_ID",
                "INVOICE_NO",
                "INVOICE_DATE",
                "DUE_DATE",
                "CUSTOMER_ID",
                "CUSTOMER_NAME",
                "TERMS",
                "LINE_NO",
                "LINE_TYPE",
                "LINE_ID",
                "ITEM_ID",
                "ITEM_NAME",
                "DESCRIPTION",
                "QTY",
                "UNIT_PRICE",
                "AMOUNT",
                "INVOICE_TOTAL",
                "BALANCE",
                "STATUS",
            ]
        )
        cur = con.execute(
            "SELECT payload FROM quickbooks.invoices WHERE NOT deleted "
            "AND last_updated >= ? AND last_updated < ? ORDER BY TRY_CAST(id AS BIGINT)",
            [START, END],
        )
        end_date = END.date().isoformat()
        kinds = {"SalesItemLineDetail": "SalesItem", "DiscountLineDetail": "Discount"}
        while batch := cur.fetchmany(5_000):
            for (payload,) in batch:
                inv = Invoice.from_json(json.loads(payload))
                if inv.TotalAmt == 0 and inv.PrivateNote == "Voided":
                    status = "Voided"
                elif inv.Balance == 0:
                    status = "Paid"
                else:
                    status = "Overdue" if (inv.DueDate or end_date) < end_date else "Open"
                n = 0
                for line in inv.Line:
                    kind = kinds.get(getattr(line, "DetailType", None))
                    if kind is None:
                        continue
                    n += 1
                    d = getattr(line, "SalesItemLineDetail", None)
                    w.writerow(
                        [
                            _clean(x)
                            for x in (
                                inv.Id,
                                inv.DocNumber,
                                inv.TxnDate,
                                inv.DueDate,
                                _g(inv, "CustomerRef", "value"),
                                _g(inv, "CustomerRef", "name"),
                                _g(inv, "SalesTermRef", "name"),
                                n,
                                kind,
                                line.Id,
                                _g(d, "ItemRef", "value"),
                                _g(d, "ItemRef", "name"),
                                line.Description,
                                _g(d, "Qty"),
                                _g(d, "UnitPrice"),
                                line.Amount,
                                inv.TotalAmt,
                                inv.Balance,
                                status,
                            )
                        ]
                    )
                    inv_rows += 1
    con.close()
    return {
        "customer_rows": cust_rows,
        "invoice_rows": inv_rows,
        "bytes": sum(p.stat().st_size for p in out.glob("*.fil")),
    }


# ---------------------------------------------------------------------------------- driver
def _child(mode: str, db: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = (run_ours if mode == "ours" else run_naive)(db, out)
    result["seconds"] = time.perf_counter() - started
    sys.stdout.write(json.dumps(result) + "\n")


def _measure(mode: str, db: Path, out: Path) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.export_bench",
            "--child",
            mode,
            "--db",
            str(db),
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed with exit code {proc.returncode}")
    result = json.loads(output.decode().strip().splitlines()[-1])
    result.update(wall=wall, peak_rss_mb=usage.ru_maxrss / 1024)  # ru_maxrss is KiB on Linux
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the comparison table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--invoices", type=int, default=200_000)
    p.add_argument("--lines", type=int, default=5, help="sales lines per invoice")
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--only", choices=["ours", "naive"], default=None)
    p.add_argument("--child", choices=["ours", "naive"], help=argparse.SUPPRESS)
    p.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args.child, args.db, args.out)
        return 0

    with tempfile.TemporaryDirectory(prefix="qbpa-export-bench-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        db = work / "bench.duckdb"
        db.unlink(missing_ok=True)
        gen = generate(db, args.invoices, args.lines, args.customers)
        print(
            f"generated {args.customers:,} customers, {args.invoices:,} invoices x "
            f"{args.lines} lines in {gen:.1f}s ({db.stat().st_size / 1e6:.0f} MB DuckDB file)"
        )
        results = {}
        for mode in ("ours", "naive"):
            if args.only and mode != args.only:
                continue
            # Each side gets a fresh copy so that staging tables of one never help the other.
            copy = work / f"{mode}.duckdb"
            copy.write_bytes(db.read_bytes())
            results[mode] = _measure(mode, copy, work / f"out-{mode}")
            copy.unlink()
    print()
    print(f"{'':8} {'customer rows':>14} {'invoice rows':>13} {'wall s':>8} {'peak RSS MB':>12}")
    for mode, r in results.items():
        print(
            f"{mode:8} {r['customer_rows']:>14,} {r['invoice_rows']:>13,} {r['wall']:>8.1f} "
            f"{r['peak_rss_mb']:>12.0f}"
        )
    if len(results) == 2:
        o, n = results["ours"], results["naive"]
        print(
            f"{'ratio':8} {'':>14} {'':>13} {n['wall'] / o['wall']:>7.1f}x "
            f"{n['peak_rss_mb'] / o['peak_rss_mb']:>11.1f}x   (naive / ours)"
        )
        if (o["customer_rows"], o["invoice_rows"]) != (n["customer_rows"], n["invoice_rows"]):
            print("WARNING: row counts differ between ours and naive")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
