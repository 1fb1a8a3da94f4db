"""The ``qbpa check`` command line: arguments, secret-free logging, the table or JSON output."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict

from qbpa_assets import config
from qbpa_assets.lib.redact import Redactor
from qbpa_assets.ops_cli.check import SYSTEMS, run_checks
from qbpa_assets.ops_cli.check.report import FAIL, format_table, summary_counts
from qbpa_assets.ops_cli.check.settings import env_secrets


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qbpa check",
        description="Check configuration and connectivity of QuickBooks, the Inventiv FTP and "
        "database, and the mappings, as a run would see them. Exit status 1 if any check fails.",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--only",
        action="append",
        choices=SYSTEMS,
        metavar="SYSTEM",
        help=f"check only this system (repeatable): {', '.join(SYSTEMS)}",
    )
    parser.add_argument("--verbose", action="store_true", help="log progress to stderr")
    return parser


class _RedactingFilter(logging.Filter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        record.exc_text = (
            self.redact(logging.Formatter().formatException(record.exc_info))
            if record.exc_info
            else None
        )
        record.exc_info = None
        return True


def settings_source(env=None) -> str:
    """One line saying where the checked settings come from (``qbpa`` reads the env file)."""
    env = os.environ if env is None else env
    path = config.env_file_path(env)
    origin = (
        f"the environment and {path.resolve()}"
        if path.is_file()
        else f"the environment only (no {path} here: copy qbpa.env.example to qbpa.env)"
    )
    line = f"Checking the settings of {origin}."
    if not any(config.get(n).read(env) for n in ("QBO_CLIENT_ID", "INVENTIV_FTP_URL")):
        line += (
            " Nothing points at a company yet: `make demo` and `make dev` use their own "
            "emulator settings, which this does not check (while `make dev` runs its sandbox: "
            "QBPA_ENV_FILE=var/dev/qbpa.env qbpa check)."
        )
    return line


def main(argv: list[str] | None = None) -> int:
    """Run ``qbpa check``; return 1 when any check fails, else 0."""
    args = _parser().parse_args(argv)
    redact = Redactor(env_secrets(os.environ))
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RedactingFilter(redact))
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        results = run_checks(os.environ, args.only or SYSTEMS, redact)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    failed = any(r.status == FAIL for r in results)
    if args.json:
        out = {
            "ok": not failed,
            "source": settings_source(),
            "counts": summary_counts(results),
            "results": [asdict(r) for r in results],
        }
        sys.stdout.write(redact(json.dumps(out, indent=2)) + "\n")
    else:
        sys.stdout.write(redact(settings_source() + "\n\n" + format_table(results)) + "\n")
    sys.stdout.flush()
    return 1 if failed else 0
