"""``qbpa sandbox serve``: run the QuickBooks Online emulator in the foreground."""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from qbpa_assets.sandbox.company import generate_company
from qbpa_assets.sandbox.emulator import Emulator, client_env

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``qbpa sandbox``."""
    parser = argparse.ArgumentParser(prog="qbpa sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the emulator until SIGINT/SIGTERM")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--seed", type=int, default=7)
    serve.add_argument("--customers", type=int, default=50)
    serve.add_argument("--items", type=int, default=30)
    serve.add_argument("--invoices", type=int, default=120)
    serve.add_argument("--days", type=int, default=10)
    serve.add_argument("--end-date", type=dt.date.fromisoformat, default=None)
    serve.add_argument("--workdir", type=Path, default=None, help="where the CA files go")
    serve.add_argument("--enforce-limits", action="store_true", help="apply QBO's throttles")
    serve.add_argument("--refresh-grace-seconds", type=float, default=0.0)
    serve.add_argument("--access-token-ttl", type=float, default=3600.0)
    serve.add_argument("--realm-id", default=None)
    serve.add_argument(
        "--refresh-token-lifetime",
        type=int,
        default=None,
        help="seconds a refresh token lives (x_refresh_token_expires_in; default 101 days)",
    )
    serve.add_argument(
        "--env",
        action="store_true",
        help="print the settings as qbpa.env lines (KEY=value) instead of one JSON line",
    )
    return parser


# The ``serve`` options handed on under their own names: to the sample company, to the emulator.
_COMPANY_OPTIONS = ("customers", "items", "invoices", "days", "seed", "end_date")
_EMULATOR_OPTIONS = (
    "port",
    "host",
    "workdir",
    "refresh_grace_seconds",
    "access_token_ttl",
    "enforce_limits",
    "refresh_token_lifetime",
)


def _pick(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names}


def serve(args: argparse.Namespace) -> int:
    """Start the emulator, print its connection line and block until a signal arrives."""
    extra = {"realm_id": args.realm_id} if args.realm_id else {}
    company = generate_company(**_pick(args, _COMPANY_OPTIONS))
    emu = Emulator(company=company, **_pick(args, _EMULATOR_OPTIONS), **extra)
    # This process only serves: keep the company (millions of objects at full size, never
    # cyclic garbage) out of the cyclic GC, whose full passes would otherwise stall paging.
    gc.freeze()
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with emu:
            # One JSON line on stdout is the whole interface: the caller reads it and goes.
            # --env: the QBO_* settings in the form of qbpa.env, to paste into that file.
            if args.env:
                lines = [f"{k}={v}" for k, v in client_env(emu.connection_info()).items()]
                sys.stdout.write("\n".join(lines) + "\n")
            else:
                sys.stdout.write(json.dumps(emu.connection_info()) + "\n")
            sys.stdout.flush()
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``qbpa sandbox ...``."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
