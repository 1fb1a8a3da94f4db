"""Run every benchmark in turn (``make bench``); each prints its own side-by-side table.

Full sizes take several minutes each on a 2-core machine; pass ``--quick`` for a smoke run.
"""

import argparse
import subprocess
import sys

FULL = {
    "extract_bench": [],
    "export_bench": [],
    "orders_bench": [],
    "backfill_bench": [],
}
QUICK = {
    "extract_bench": ["--customers", "5000", "--items", "1000", "--invoices", "5000"],
    "export_bench": ["--sizes", "20000", "--customers", "10000", "--rounds", "1"],
    "orders_bench": ["--orders", "300"],
    "backfill_bench": ["--invoices", "20000", "--customers", "5000", "--items", "1000"],
}


def main() -> int:
    """Run the benchmarks one after the other; stop at the first failure."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("only", nargs="*", help="benchmark module names (default: all)")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    for name, extra in plan.items():
        if args.only and name not in args.only:
            continue
        sys.stdout.write(f"\n=== benchmarks.{name} {' '.join(extra)}\n")
        sys.stdout.flush()
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}", *extra])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
