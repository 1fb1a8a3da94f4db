"""QuickBooks extraction benchmark: our page extractor + DuckDB vs a naive python-quickbooks loop.

    python -m benchmarks.extract_bench [--customers 100000 --items 20000 --invoices 200000]

The parent process generates the sample company and serves it with the bundled QBO emulator
(HTTPS, real OAuth); each side then runs in its own subprocess, so that peak RSS
(``resource.getrusage``) is per side:

* **ours**: ``QboClient.extract_pages`` (COUNT, then 1000-row pages fetched concurrently and
  written to disk untouched) and one DuckDB ``read_text`` + JSON ``unnest`` per entity;
* **naive**: python-quickbooks ``Customer.where(..., start_position=n, max_results=1000)``
  paging that builds one Python object per entity, keeps them all, and inserts
  ``(Id, obj.to_json())`` rows into DuckDB with ``executemany``.

API requests per entity are counted from the emulator's request log and compared with the
minimum, ``ceil(N/1000)`` pages (+1 COUNT for ours).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# entity -> WHERE; list entities hide inactive rows unless Active is filtered.
ENTITIES = {
    "Customer": "Active IN (true, false)",
    "Item": "Active IN (true, false)",
    "Invoice": None,
}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def run_ours(workdir: Path, concurrency: int) -> dict:
    import duckdb

    from qbpa_assets.lib.quickbooks.client import QboClient
    from qbpa_assets.lib.quickbooks.settings import QboSettings

    settings = dataclasses.replace(
        QboSettings.from_env(data_dir=workdir), max_concurrency=concurrency
    )
    out: dict = {"entities": {}}
    started = time.perf_counter()
    con = duckdb.connect(str(workdir / "ours.duckdb"))
    with QboClient(settings) as client:
        for entity, where in ENTITIES.items():
            t0 = time.perf_counter()
            result = client.extract_pages(entity, workdir / "pages" / entity, where=where)
            con.execute(
                f"CREATE OR REPLACE TABLE raw_{entity.lower()} AS "
                "SELECT e ->> 'Id' AS id, e AS payload FROM ("
                f"  SELECT unnest(CAST(json_extract(content, '$.QueryResponse.{entity}') "
                "     AS JSON[])) AS e FROM read_text(?))",
                [[str(p) for p in result.files]],
            )
            loaded = con.execute(f"SELECT count(*) FROM raw_{entity.lower()}").fetchone()[0]
            out["entities"][entity] = {
                "rows": loaded,
                "client_rows": result.rows,
                "seconds": time.perf_counter() - t0,
            }
    con.close()
    out["seconds"] = time.perf_counter() - started
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def run_naive(workdir: Path) -> dict:
    import duckdb
    from intuitlib.client import AuthClient
    from quickbooks import QuickBooks
    from quickbooks.objects.customer import Customer
    from quickbooks.objects.invoice import Invoice
    from quickbooks.objects.item import Item

    env = os.environ
    started = time.perf_counter()
    # The naive way to trust a private CA: REQUESTS_CA_BUNDLE (set by the parent for this side).
    auth = AuthClient(
        client_id=env["QBO_CLIENT_ID"],
        client_secret=env["QBO_CLIENT_SECRET"],
        redirect_uri="http://localhost",
        environment=env["QBO_ENVIRONMENT"],
    )
    qb = QuickBooks(
        auth_client=auth,
        refresh_token=env["QBO_REFRESH_TOKEN"],
        company_id=env["QBO_REALM_ID"],
        minorversion=75,
    )
    qb.api_url_v3 = env["QBO_API_BASE_URL"]
    classes = {"Customer": Customer, "Item": Item, "Invoice": Invoice}
    con = duckdb.connect(str(workdir / "naive.duckdb"))
    out: dict = {"entities": {}}
    for entity, where in ENTITIES.items():
        t0 = time.perf_counter()
        objects = []
        start = 1
        while True:
            page = classes[entity].where(where or "", start_position=start, max_results=1000, qb=qb)
            objects.extend(page)
            if len(page) < 1000:
                break
            start += 1000
        table = f"raw_{entity.lower()}"
        con.execute(f"CREATE OR REPLACE TABLE {table} (id VARCHAR, payload JSON)")
        con.executemany(
            f"INSERT INTO {table} VALUES (?, ?)", [(o.Id, o.to_json()) for o in objects]
        )
        out["entities"][entity] = {
            "rows": con.execute(f"SELECT count(*) FROM {table}").fetchone()[0],
            "seconds": time.perf_counter() - t0,
        }
    con.close()
    out["seconds"] = time.perf_counter() - started
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def _side(side: str, env: dict[str, str], workdir: Path, concurrency: int) -> dict:
    cmd = [
        sys.executable, "-m", "benchmarks.extract_bench", "--side", side,
        "--workdir", str(workdir), "--concurrency", str(concurrency),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{side} side failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _requests_per_entity(log: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in log:
        if entry.get("op") == "query" and entry.get("entity"):
            counts[entry["entity"]] = counts.get(entry["entity"], 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.extract_bench")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--side", choices=["ours", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.side:  # child process
        workdir = Path(args.workdir)
        result = run_ours(workdir, args.concurrency) if args.side == "ours" else run_naive(workdir)
        sys.stdout.write(json.dumps(result) + "\n")
        return 0

    from qbpa_assets.sandbox.company import generate_company
    from qbpa_assets.sandbox.emulator import Emulator

    with tempfile.TemporaryDirectory(prefix="qbpa-extract-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        company = generate_company(
            customers=args.customers, items=args.items, invoices=args.invoices,
            days=args.days, seed=args.seed,
        )  # fmt: skip
        gen_s = time.perf_counter() - t0
        with Emulator(company=company, port=0, workdir=root / "emulator") as emu:
            results: dict[str, dict] = {}
            requests: dict[str, dict[str, int]] = {}
            for side in ("ours", "naive"):
                workdir = root / side
                workdir.mkdir()
                env = {**os.environ, **emu.env(), "QBPA_DATA_DIR": str(workdir)}
                env["QBO_REFRESH_TOKEN"] = emu.issue_refresh_token()
                if side == "naive":
                    env["REQUESTS_CA_BUNDLE"] = emu.ca_file
                emu.reset_request_log()
                results[side] = _side(side, env, workdir, args.concurrency)
                requests[side] = _requests_per_entity(emu.request_log)

    sizes = {"Customer": args.customers, "Item": args.items, "Invoice": args.invoices}
    lines = [
        f"company: {args.customers} customers, {args.items} items, {args.invoices} invoices "
        f"(generated in {gen_s:.1f}s); concurrency {args.concurrency}",
        "",
        "| entity | rows (ours / naive) | API requests ours | naive | minimum ceil(N/1000) |",
        "|---|---|---|---|---|",
    ]
    for entity in ENTITIES:
        ours, naive = results["ours"]["entities"][entity], results["naive"]["entities"][entity]
        lines.append(
            f"| {entity} | {ours['rows']} / {naive['rows']} | {requests['ours'].get(entity, 0)} "
            f"| {requests['naive'].get(entity, 0)} | {math.ceil(ours['rows'] / 1000)} "
            f"(N≈{sizes[entity]}) |"
        )
    o, n = results["ours"], results["naive"]
    lines += [
        "",
        "| side | wall time (s) | peak RSS (MB) |",
        "|---|---|---|",
        f"| ours (extract_pages + DuckDB) | {o['seconds']:.1f} | {o['peak_rss_mb']:.0f} |",
        f"| naive (python-quickbooks objects) | {n['seconds']:.1f} | {n['peak_rss_mb']:.0f} |",
        f"| ratio naive / ours | {n['seconds'] / o['seconds']:.2f}x "
        f"| {n['peak_rss_mb'] / o['peak_rss_mb']:.2f}x |",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
