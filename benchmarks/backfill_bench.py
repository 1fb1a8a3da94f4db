"""Backfill benchmark: the invoice flow over 730 daily partitions as ONE run, peak RSS measured.

    python -m benchmarks.backfill_bench [--invoices 1500000 --customers 100000 --items 20000]
        [--days 730] [--memory-limit 512MB]

The parent process generates the sample company with its invoice activity over ``--days`` days
ending yesterday (UTC), and serves it with the bundled QBO emulator (HTTPS, real OAuth). A child
process then runs the production invoice flow — ``quickbooks_invoices`` →
``staging_invoice_lines`` → ``invoice_fil`` (``BackfillPolicy.single_run()``) — as one run over
the whole partition range, the way a range backfill from the UI runs it: a job of the three
assets executed in process with the tags ``dagster/asset_partition_range_start`` / ``_end``.

The child's resources are the production ones, built from environment variables by
``qbpa_assets.defs.resources.build_resources`` (as the code location builds them):
``QBO_*`` from the emulator, ``QBPA_DATA_DIR`` a fresh folder, ``QBPA_PARTITION_START`` the
first day of the range (the partitions must exist), ``INVENTIV_FTP_URL=file:///…`` (the local
folder transfer; no SFTP server), ``QBPA_DUCKDB_MEMORY_LIMIT`` unset (default 512MB) unless
``--memory-limit`` is given.

Printed: per-step wall time (the run's step stats) with the child's peak RSS inside each step
(VmRSS sampled every 0.2 s), the run's total, invoices landed, invoice lines staged,
``invoice.fil`` size and lines, the child's peak RSS (``VmHWM``), the emulator's (parent's)
RSS, and one summary line:
``backfill <P> partitions, <N> invoices: one run, ours <s> s, peak RSS <m> MB``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.procstat import status_mb

ACCOUNT_ID = "BENCH1"


class RssSampler:
    """Samples this process's VmRSS in a daemon thread: ``(time.time(), MB)`` pairs."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), status_mb("VmRSS")))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float = 0.0, end: float = float("inf")) -> float:
        """The highest sample in ``[start, end]``."""
        return max((mb for t, mb in self.samples if start <= t <= end), default=0.0)


def _count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            lines += chunk.count(b"\n")
    return lines


def run_child(first: dt.date, last: dt.date) -> dict:
    """One run of the three invoice assets over ``first``..``last`` with production resources."""
    import dagster as dg

    from qbpa_assets.defs.invoices.assets import (
        invoice_fil,
        quickbooks_invoices,
        staging_invoice_lines,
    )
    from qbpa_assets.defs.resources import build_resources

    assets = [quickbooks_invoices, staging_invoice_lines, invoice_fil]
    resources = build_resources()
    job = dg.define_asset_job("invoice_backfill", selection=assets).resolve(
        asset_graph=dg.Definitions(assets=assets, resources=resources).resolve_asset_graph()
    )
    instance = dg.DagsterInstance.ephemeral()
    imports_rss = status_mb("VmRSS")
    with RssSampler() as sampler:
        t0 = time.perf_counter()
        started = time.time()
        result = job.execute_in_process(
            resources=resources,
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": first.isoformat(),
                "dagster/asset_partition_range_end": last.isoformat(),
            },
            raise_on_error=False,
        )
        seconds = time.perf_counter() - t0
        ended = time.time()
    out: dict = {
        "success": result.success,
        "seconds": seconds,
        "imports_rss_mb": imports_rss,
        "peak_rss_mb": status_mb("VmHWM"),
        "sampled_peak_rss_mb": sampler.peak(started, ended),
        "steps": {},
        "metadata": {},
    }
    if not result.success:
        failures = [
            str(e.event_specific_data.error.to_string())  # type: ignore[union-attr]
            for e in result.all_events
            if e.is_step_failure
        ]
        out["errors"] = failures
        return out
    for stat in instance.get_run_step_stats(result.run_id):
        out["steps"][stat.step_key] = {
            "seconds": (stat.end_time or 0) - (stat.start_time or 0),
            "peak_rss_mb": sampler.peak(stat.start_time or 0, stat.end_time or float("inf")),
        }
    for node in ("quickbooks__invoices", "staging__invoice_lines", "inventiv_ftp__invoice_fil"):
        for mat in result.asset_materializations_for_node(node):
            out["metadata"][node] = {
                k: v.value
                for k, v in mat.metadata.items()
                if isinstance(v.value, (int, float, str, bool)) and len(str(v.value)) < 200
            }
    fil = Path(os.environ["INVENTIV_FTP_URL"].removeprefix("file://")) / f"latest{ACCOUNT_ID}"
    fil = fil / "invoice.fil"
    out["fil_bytes"] = fil.stat().st_size if fil.exists() else 0
    out["fil_lines"] = _count_lines(fil) if fil.exists() else 0
    return out


def _time_queries(emu) -> list[tuple[float, float]]:
    """Record the (start, end) of every query the emulator answers (its own serving time)."""
    served: list[tuple[float, float]] = []
    inner = emu.api_query  # the router looks handlers up on the instance, per request

    def timed(request):
        t0 = time.perf_counter()
        try:
            return inner(request)
        finally:
            served.append((t0, time.perf_counter()))

    emu.api_query = timed
    return served


def _serving(served: list[tuple[float, float]]) -> dict[str, float]:
    """The emulator's busy time (union of the answers), the span, the longest answer and gap."""
    if not served:
        return {"busy": 0.0, "span": 0.0, "longest": 0.0, "gap": 0.0}
    busy, gap, end = 0.0, 0.0, None
    for start, stop in sorted(served):
        if end is None or start > end:
            gap = max(gap, start - end) if end is not None else gap
            busy += stop - start
            end = stop
        elif stop > end:
            busy += stop - end
            end = stop
    span = max(stop for _, stop in served) - min(start for start, _ in served)
    longest = max(stop - start for start, stop in served)
    return {"busy": busy, "span": span, "longest": longest, "gap": gap}


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _step_name(step_key: str) -> str:
    return step_key.replace("__", "/")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``--side child``, the measured run)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backfill_bench")
    parser.add_argument("--invoices", type=int, default=1_500_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--memory-limit", help="QBPA_DUCKDB_MEMORY_LIMIT, e.g. 512MB (default)")
    parser.add_argument("--side", choices=["child"], help=argparse.SUPPRESS)
    parser.add_argument("--first", help=argparse.SUPPRESS)
    parser.add_argument("--last", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.side:  # child process
        result = run_child(dt.date.fromisoformat(args.first), dt.date.fromisoformat(args.last))
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        return 0

    from qbpa_assets.sandbox.company import generate_company
    from qbpa_assets.sandbox.emulator import Emulator

    command = "python -m benchmarks.backfill_bench " + " ".join(argv or sys.argv[1:])
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)  # the newest invoice partition
    first = last - dt.timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory(prefix="qbpa-backfill-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        company = generate_company(
            customers=args.customers, items=args.items, invoices=args.invoices,
            days=args.days, seed=args.seed, end_date=last,
        )  # fmt: skip
        gen_s = time.perf_counter() - t0
        _say(
            f"company generated in {gen_s:.1f} s ({args.invoices} invoice Ids drawn over "
            f"{first}..{last}); parent RSS {status_mb('VmRSS'):.0f} MB"
        )
        with Emulator(company=company, port=0, workdir=root / "emulator") as emu:
            del company
            # As `qbpa sandbox serve` does: the company (tens of millions of objects at 1.5M
            # invoices) out of the cyclic GC, whose full passes stall paging for ~20 s each.
            gc.freeze()
            data, ftp = root / "data", root / "ftp"
            ftp.mkdir()
            env = {**os.environ, **emu.env()}
            for name in [n for n in env if n.startswith(("QBPA_", "INVENTIV_"))]:
                env.pop(name)
            env.update(
                {
                    "QBO_REFRESH_TOKEN": emu.issue_refresh_token(),
                    "QBPA_DATA_DIR": str(data),
                    "QBPA_PARTITION_START": first.isoformat(),
                    "QBPA_TIMEZONE": "UTC",
                    "INVENTIV_FTP_URL": f"file://{ftp}",
                    "INVENTIV_ACCOUNT_ID": ACCOUNT_ID,
                }
            )
            if args.memory_limit:
                env["QBPA_DUCKDB_MEMORY_LIMIT"] = args.memory_limit
            served = _time_queries(emu)
            emu.reset_request_log()
            cmd = [
                sys.executable, "-m", "benchmarks.backfill_bench", "--side", "child",
                "--first", first.isoformat(), "--last", last.isoformat(),
            ]  # fmt: skip
            with RssSampler(1.0) as parent_rss:
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit(f"child failed:\n{proc.stderr[-4000:]}")
            got = json.loads(proc.stdout.strip().splitlines()[-1])
            queries = sum(1 for e in emu.request_log if e.get("op") == "query")
            cdc_calls = sum(1 for e in emu.request_log if e.get("op") == "cdc")
        if not got["success"]:
            raise SystemExit("run failed:\n" + "\n".join(got.get("errors", []))[-4000:])

    serving = _serving(served)
    meta = got["metadata"]
    landed = meta.get("quickbooks__invoices", {})
    staged = meta.get("staging__invoice_lines", {})
    fil_meta = meta.get("inventiv_ftp__invoice_fil", {})
    limit = args.memory_limit or "default (512MB)"
    lines = [
        "",
        f"company: {args.customers} customers, {args.items} items, {args.invoices} invoice Ids "
        f"over {args.days} days ({first}..{last}); DuckDB memory limit {limit}",
        f"emulator (parent): RSS {parent_rss.samples[0][1] if parent_rss.samples else 0:.0f} MB "
        f"at start, peak {parent_rss.peak():.0f} MB during the run; {queries} query requests, "
        f"{cdc_calls} CDC",
        f"emulator serving the queries: busy {serving['busy']:.1f} s of {serving['span']:.1f} s "
        f"from first to last, longest answer {serving['longest']:.1f} s (the first evaluates "
        f"and sorts the result), longest idle gap {serving['gap']:.1f} s",
        "",
        "| step | wall s | peak RSS in step (sampled) MB |",
        "|---|---:|---:|",
    ]
    for key, step in got["steps"].items():
        lines.append(f"| {_step_name(key)} | {step['seconds']:.1f} | {step['peak_rss_mb']:.0f} |")
    lines += [
        f"| **run total** | {got['seconds']:.1f} | {got['peak_rss_mb']:.0f} (VmHWM) |",
        "",
        f"invoices landed: {landed.get('dagster/row_count')} in the window "
        f"({landed.get('invoices_fetched')} fetched, {landed.get('deleted_tombstones')} "
        f"tombstones, {landed.get('pages')} pages, {landed.get('api_calls')} API calls)",
        f"window: {landed.get('window_start')} .. {landed.get('window_end')} (deletions "
        f"checked since {landed.get('deletions_checked_since')})",
        f"invoice lines staged: {staged.get('dagster/row_count')}",
        f"invoice.fil: {got['fil_bytes'] / 1e6:.1f} MB, {got['fil_lines']} lines "
        f"(header included; rows metadata {fil_meta.get('dagster/row_count')})",
        f"child RSS after imports {got['imports_rss_mb']:.0f} MB; peak RSS (VmHWM) "
        f"{got['peak_rss_mb']:.0f} MB",
        "",
        f"command: {command}",
        f"backfill {args.days} partitions, {args.invoices} invoices: one run, ours "
        f"{got['seconds']:.1f} s, peak RSS {got['peak_rss_mb']:.0f} MB",
    ]
    _say("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
