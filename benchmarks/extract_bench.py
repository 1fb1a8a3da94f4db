"""QuickBooks extraction benchmark: the production path vs a minimal client on a warm emulator.

    python -m benchmarks.extract_bench [--customers 100000 --items 20000 --invoices 200000]
        [--rounds 3] [--skip-naive] [--concurrency 4]

The parent process generates the sample company, serves it with the bundled QBO emulator
(HTTPS, real OAuth) and warms it (one untimed pass of every page). Then, for each round, the
sides run one after the other, in an order rotating from round to round, each in its own
subprocess so that peak RSS (``VmHWM``) is per side:

* **ours** — the production path of the raw assets: ``QboClient.extract_pages`` (COUNT, then
  1000-row pages, 4 in flight, bodies written to disk untouched, checked without being parsed
  in Python) into the warehouse's scratch folder, then ``raw.replace_list_table`` (Customer,
  Item) and ``raw.InvoiceLoad`` (Invoice, the window holding every invoice, as a backfill of
  the whole range runs; each batch of 200 pages landed while the next download, as the asset
  does) into the DuckDB file, opened through ``WarehouseResource``;
* **minimal** — the floor of fetching: a ``requests`` session with 4 connections sending the
  same COUNT and page queries with a bearer token and discarding the bodies;
* **reference** — the floor of landing: the minimal client writing each body to a file as it
  arrives, then one plain DuckDB statement per entity (Id and the entity's JSON per row, no
  checks, no merge) into a DuckDB file with ours' memory limit;
* **naive** (once, unless ``--skip-naive``) — python-quickbooks ``Customer.where(...)`` paging
  that builds one Python object per entity and ``executemany`` into DuckDB.

Each round prints its ratios; the summary gives the medians, the API requests per entity from
the emulator's log (the minimum is ``ceil(N/1000)`` pages + 1 COUNT) and ends with two lines:
``extract <N> entities: ours/minimal-client <r>x, ours <s> s, peak RSS <m> MB`` and
``extract <N> entities: ours/reference <r>x, reference <s> s, peak RSS <m> MB``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.procstat import peak_rss_mb

ALL = "Active IN (true, false)"  # list entities hide inactive rows unless Active is filtered
LIST_ENTITIES = ("Customer", "Item")
# The invoice window of the benchmark: wide enough to hold every generated invoice.
WINDOW = ("2000-01-01T00:00:00+00:00", "2100-01-01T00:00:00+00:00")
INVOICE_WHERE = (
    f"MetaData.LastUpdatedTime >= '{WINDOW[0]}' AND MetaData.LastUpdatedTime < '{WINDOW[1]}'"
)
ENTITIES = {"Customer": ALL, "Item": ALL, "Invoice": INVOICE_WHERE}
SIDES = ("ours", "minimal", "reference")


def _statements(entity: str, where: str, total: int) -> list[str]:
    pages = max(1, math.ceil(total / 1000))
    # A full last page makes both clients read one more (it may have grown since the COUNT).
    if total and total % 1000 == 0:
        pages += 1
    return [
        f"SELECT * FROM {entity} WHERE {where} ORDERBY Id STARTPOSITION {n * 1000 + 1} "
        "MAXRESULTS 1000"
        for n in range(pages)
    ]


def run_ours(workdir: Path, concurrency: int, memory_limit: str | None) -> dict:
    """The production path of the raw assets (extract, then the raw loaders)."""
    from qbpa_assets.defs.resources.warehouse import WarehouseResource
    from qbpa_assets.lib.quickbooks.client import QboClient
    from qbpa_assets.lib.quickbooks.settings import QboSettings
    from qbpa_assets.lib.warehouse import raw

    settings = dataclasses.replace(
        QboSettings.from_env(data_dir=workdir), max_concurrency=concurrency
    )
    warehouse = WarehouseResource(data_dir=str(workdir), memory_limit=memory_limit)
    out: dict = {"entities": {}}
    started = time.perf_counter()
    with QboClient(settings) as client:
        for entity, where in ENTITIES.items():
            t0 = time.perf_counter()
            with warehouse.scratch_dir(entity.lower()) as scratch:
                if entity == "Invoice":
                    result, loaded, landing = _extract_invoices(client, warehouse, scratch, where)
                    fetched = time.perf_counter() - t0 - landing
                else:  # as the master-data assets: fetch, then replace the table
                    result = client.extract_pages(entity, scratch, where=where)
                    fetched = time.perf_counter() - t0
                    with warehouse.get_connection() as con:
                        loaded = raw.replace_list_table(con, entity, result.files)
            out["entities"][entity] = {
                "rows": loaded,
                "client_rows": result.rows,
                "fetch_s": fetched,
                "seconds": time.perf_counter() - t0,
            }
    out["seconds"] = time.perf_counter() - started
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def _extract_invoices(client, warehouse, scratch: Path, where: str) -> tuple[object, int, float]:
    """As the invoice asset: each batch of pages landed while the next ones download.

    Returns the extraction, the rows landed and the seconds spent landing (not downloading).
    """
    from qbpa_assets.lib.warehouse import raw

    landing = 0.0
    with warehouse.get_connection() as con:
        load = raw.InvoiceLoad(con)

        def land(files: list[Path]) -> None:
            nonlocal landing
            t = time.perf_counter()
            load.add(files)
            landing += time.perf_counter() - t

        result = client.extract_pages(
            "Invoice", scratch, where=where,
            on_pages=land, pages_per_call=raw.PAGES_PER_STATEMENT,
        )  # fmt: skip
        loaded, _ = load.finish()
    return result, loaded, landing


def run_minimal(
    workdir: Path, concurrency: int, land: bool = False, memory_limit: str | None = None
) -> dict:
    """The floor: the same requests with a bare session, bodies discarded.

    With ``land``, the reference instead: each body written to a file as it arrives, then each
    entity landed by one plain statement, in a DuckDB file opened as ours is (a
    ``WarehouseResource`` of ``memory_limit``).
    """
    import requests
    import requests.adapters

    from qbpa_assets.lib.quickbooks import oauth
    from qbpa_assets.lib.quickbooks.settings import QboSettings

    settings = QboSettings.from_env(data_dir=workdir)
    auth = oauth.make_auth_client(settings)
    token = oauth.refresh_grant(auth, settings.refresh_token or "").access_token
    auth.close()
    session = requests.Session()
    session.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency))
    url = f"{settings.resolved_api_base_url}/company/{settings.realm_id}/query"
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "Content-Type": "application/text",
    }
    verify = settings.ca_bundle

    def send(statement: str) -> bytes:
        resp = session.post(
            url,
            params={"minorversion": "75"},
            data=statement.encode(),
            headers=headers,
            verify=verify,
            timeout=60,
        )
        resp.raise_for_status()
        return resp.content

    warehouse = None
    if land:  # its DuckDB file opened as ours' is; imported before the clock starts, as ours'
        from qbpa_assets.defs.resources.warehouse import WarehouseResource

        warehouse = WarehouseResource(data_dir=str(workdir), memory_limit=memory_limit)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        con = stack.enter_context(warehouse.get_connection()) if warehouse else None
        out: dict = {"entities": _fetch_all(send, concurrency, con, workdir)}
    out["seconds"] = time.perf_counter() - started
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def _fetch_all(send, concurrency: int, con, workdir: Path) -> dict[str, dict]:
    """Every entity's COUNT and pages; bodies discarded, or kept and landed through ``con``."""
    entities: dict[str, dict] = {}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for entity, where in ENTITIES.items():
            t0 = time.perf_counter()
            count = json.loads(send(f"SELECT COUNT(*) FROM {entity} WHERE {where}"))
            total = int(count["QueryResponse"].get("totalCount") or 0)
            statements = _statements(entity, where, total)
            if con is None:
                size = sum(len(body) for body in pool.map(send, statements))
                entities[entity] = {"rows": total, "bytes": size}
            else:
                pages = workdir / "pages" / entity
                pages.mkdir(parents=True)

                def keep(job: tuple[int, str], pages: Path = pages) -> int:
                    body = send(job[1])
                    (pages / f"{job[0]:05d}.json").write_bytes(body)
                    return len(body)

                size = sum(pool.map(keep, enumerate(statements)))
                entities[entity] = {
                    "rows": _reference_land(con, entity, sorted(map(str, pages.iterdir()))),
                    "bytes": size,
                }
            entities[entity]["seconds"] = time.perf_counter() - t0
    return entities


def _reference_land(con, entity: str, files: list[str]) -> int:
    """The plainest landing of the pages: one statement, Id and the entity's JSON per row.

    No envelope beyond the Id, no checks, no merge; the payload zstd-compressed as ours (the
    fastest way DuckDB found to write these texts).
    """
    table = f"ref_{entity.lower()}"
    con.execute(f"CREATE TABLE {table} (id VARCHAR, payload JSON USING COMPRESSION zstd)")
    con.execute(
        f"""INSERT INTO {table} SELECT e ->> 'Id', e FROM (
                SELECT unnest(json_extract(content, '$.QueryResponse.{entity}[*]')) AS e
                FROM read_text(?))""",
        [files],
    )
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def run_naive(workdir: Path) -> dict:
    """python-quickbooks objects, kept in memory, inserted row by row."""
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
            page = classes[entity].where(where, start_position=start, max_results=1000, qb=qb)
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
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def _side(side: str, env: dict[str, str], workdir: Path, args: argparse.Namespace) -> dict:
    cmd = [
        sys.executable, "-m", "benchmarks.extract_bench", "--side", side,
        "--workdir", str(workdir), "--concurrency", str(args.concurrency),
    ]  # fmt: skip
    if args.memory_limit:
        cmd += ["--memory-limit", args.memory_limit]
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


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one side of it, in a child process)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.extract_bench")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-limit", help="QBPA_DUCKDB_MEMORY_LIMIT for ours, e.g. 512MB")
    parser.add_argument("--skip-naive", action="store_true", help="leave the naive side out")
    parser.add_argument(
        "--side", choices=["ours", "minimal", "reference", "naive"], help=argparse.SUPPRESS
    )
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.side:  # child process
        workdir = Path(args.workdir)
        if args.side == "ours":
            result = run_ours(workdir, args.concurrency, args.memory_limit)
        elif args.side == "minimal":
            result = run_minimal(workdir, args.concurrency)
        elif args.side == "reference":
            result = run_minimal(workdir, args.concurrency, True, args.memory_limit)
        else:
            result = run_naive(workdir)
        sys.stdout.write(json.dumps(result) + "\n")
        return 0

    from qbpa_assets.sandbox.company import generate_company
    from qbpa_assets.sandbox.emulator import Emulator

    command = "python -m benchmarks.extract_bench " + " ".join(argv or sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="qbpa-extract-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        company = generate_company(
            customers=args.customers, items=args.items, invoices=args.invoices,
            days=args.days, seed=args.seed,
        )  # fmt: skip
        gen_s = time.perf_counter() - t0
        with Emulator(company=company, port=0, workdir=root / "emulator") as emu:
            gc.freeze()  # as `qbpa sandbox serve`: the company out of the cyclic GC's passes

            def run(side: str, tag: str) -> tuple[dict, dict[str, int]]:
                workdir = root / f"{side}-{tag}"
                workdir.mkdir()
                env = {**os.environ, **emu.env(), "QBPA_DATA_DIR": str(workdir)}
                env["QBO_REFRESH_TOKEN"] = emu.issue_refresh_token()
                env.pop("REQUESTS_CA_BUNDLE", None)
                if side == "naive":
                    env["REQUESTS_CA_BUNDLE"] = emu.ca_file
                emu.reset_request_log()
                result = _side(side, env, workdir, args)
                return result, _requests_per_entity(emu.request_log)

            t0 = time.perf_counter()
            run("minimal", "warmup")
            _say(f"company generated in {gen_s:.1f}s; emulator warmed in "
                 f"{time.perf_counter() - t0:.1f}s")  # fmt: skip
            runs: dict[str, list[dict]] = {side: [] for side in SIDES}
            requests: dict[str, int] = {}
            for n in range(args.rounds):
                order = SIDES[n % len(SIDES) :] + SIDES[: n % len(SIDES)]  # rotate the order
                got = {}
                for side in order:
                    got[side], counted = run(side, f"r{n}")
                    if side == "ours":
                        requests = counted
                    runs[side].append(got[side])
                o, m, r = got["ours"], got["minimal"], got["reference"]
                for entity in ENTITIES:  # both land every row
                    if o["entities"][entity]["rows"] != r["entities"][entity]["rows"]:
                        raise SystemExit(f"{entity}: ours and the reference landed other rows")
                _say(
                    f"round {n + 1} ({', '.join(order)}): ours {o['seconds']:.2f} s "
                    f"({o['peak_rss_mb']:.0f} MB), minimal {m['seconds']:.2f} s, reference "
                    f"{r['seconds']:.2f} s ({r['peak_rss_mb']:.0f} MB): ours/minimal "
                    f"{o['seconds'] / m['seconds']:.2f}x, ours/reference "
                    f"{o['seconds'] / r['seconds']:.2f}x"
                )
            ours_runs, minimal_runs = runs["ours"], runs["minimal"]
            naive = None if args.skip_naive else run("naive", "once")[0]

    ours_s = statistics.median(r["seconds"] for r in ours_runs)
    minimal_s = statistics.median(r["seconds"] for r in minimal_runs)
    reference_s = statistics.median(r["seconds"] for r in runs["reference"])
    reference_rss = max(r["peak_rss_mb"] for r in runs["reference"])
    ours_rss = max(r["peak_rss_mb"] for r in ours_runs)
    last = ours_runs[-1]["entities"]
    lines = [
        "",
        f"company: {args.customers} customers, {args.items} items, {args.invoices} invoices; "
        f"concurrency {args.concurrency}; DuckDB memory limit {args.memory_limit or 'default'}",
        "",
        "| entity | rows landed | API requests (ours) | minimum ceil(N/1000) + COUNT | "
        "fetch s (not overlapped with landing) | fetch + load s |",
        "|---|---|---|---|---|---|",
    ]
    for entity in ENTITIES:
        e = last[entity]
        lines.append(
            f"| {entity} | {e['rows']} | {requests.get(entity, 0)} | "
            f"{math.ceil(e['rows'] / 1000) + 1} | {e['fetch_s']:.2f} | {e['seconds']:.2f} |"
        )
    lines += [
        "",
        "| side | median wall time (s) | peak RSS (MB) |",
        "|---|---|---|",
        f"| ours (extract_pages + raw loaders) | {ours_s:.2f} | {ours_rss:.0f} |",
        f"| minimal client (same requests, discarded) | {minimal_s:.2f} | "
        f"{max(r['peak_rss_mb'] for r in minimal_runs):.0f} |",
        f"| reference (same requests, bodies to files, one plain DuckDB INSERT per entity) | "
        f"{reference_s:.2f} | {reference_rss:.0f} |",
    ]
    if naive is not None:
        lines.append(
            f"| naive (python-quickbooks objects) | {naive['seconds']:.2f} | "
            f"{naive['peak_rss_mb']:.0f} |"
        )
    total = sum(e["rows"] for e in last.values())
    lines += [
        "",
        f"command: {command}",
        f"extract {total} entities: ours/minimal-client {ours_s / minimal_s:.2f}x, "
        f"ours {ours_s:.1f} s, peak RSS {ours_rss:.0f} MB",
        f"extract {total} entities: ours/reference {ours_s / reference_s:.2f}x, "
        f"reference {reference_s:.1f} s, peak RSS {reference_rss:.0f} MB",
    ]
    _say("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
