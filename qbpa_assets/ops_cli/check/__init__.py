"""``qbpa check``: validate the configuration and reach every system before the first run.

Each check prints one row (system, check, OK/WARN/FAIL/SKIP, what was found) and, when it is
not OK, how to fix it. Everything is judged by the resources a run builds
(``defs.resources.build_resources``) and the validators of :mod:`qbpa_assets.config`, so the
check can never pass a setting a run would fail on:

* **Settings** (``settings.py``) — time zone, partition start, sales-order entity, sales-rep
  source, DuckDB memory cap, alert channels hold allowed values.
* **QuickBooks** (``quickbooks.py``) — the ``QBO_*`` variables; the refresh token works (a
  real refresh, saved to the token store the pipeline uses); the date by which the company must
  be re-authorized; the company answers; the minor version; *custom transaction numbers*.
* **Inventiv FTP** (``ftp.py``) — URL and account; the SFTP host key is known; the login works;
  ``latest<account>`` is writable (a test file is written and removed).
* **Inventiv DB** (``database.py``) — the order mapping loads; the ODBC connection opens; the
  three order queries run (with an empty window) and return the columns the import expects.
* **Mappings** (``mappings.py``) — every ``.fil`` layout and the order mapping compile.

Nothing secret is ever printed: every message passes through the redactor, which knows the
secret values of the environment (and the tokens the refresh produced). Exit status 1 when any
check FAILs, 0 otherwise; ``--json`` prints the same results for machines.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from qbpa_assets.lib.redact import Redactor
from qbpa_assets.ops_cli.check.report import (
    FAIL,
    OK,
    SKIP,
    WARN,
    CheckResult,
    Report,
    first_line,
    format_table,
    summary_counts,
)
from qbpa_assets.ops_cli.check.settings import env_secrets

logger = logging.getLogger(__name__)

SYSTEMS = ("settings", "quickbooks", "ftp", "database", "mappings")
TITLES = {
    "settings": "Settings",
    "quickbooks": "QuickBooks",
    "ftp": "Inventiv FTP",
    "database": "Inventiv DB",
    "mappings": "Mappings",
}
# The old name, kept for callers of the single-module version.
_env_secrets = env_secrets


def run_checks(
    env: Mapping[str, str] | None = None,
    systems: Iterable[str] = SYSTEMS,
    redactor: Redactor | None = None,
) -> list[CheckResult]:
    """Run the checks of the given systems against an environment.

    Args:
        env: Variables to read (default ``os.environ``).
        systems: Any of :data:`SYSTEMS`.
        redactor: Collects the secrets to hide; built from ``env`` when not given.

    Returns:
        The report rows, in order; every text is free of the environment's secrets.
    """
    from qbpa_assets.defs.resources import resource_values
    from qbpa_assets.defs.resources.inventiv_db import InventivDbResource
    from qbpa_assets.defs.resources.inventiv_ftp import InventivFtpResource
    from qbpa_assets.defs.resources.quickbooks import QuickBooksResource
    from qbpa_assets.defs.resources.warehouse import QbpaSettings, WarehouseResource
    from qbpa_assets.ops_cli.check.database import check_database
    from qbpa_assets.ops_cli.check.ftp import check_ftp
    from qbpa_assets.ops_cli.check.mappings import check_mappings
    from qbpa_assets.ops_cli.check.quickbooks import check_quickbooks
    from qbpa_assets.ops_cli.check.settings import check_settings

    env = os.environ if env is None else env
    redact = redactor or Redactor(env_secrets(env))
    results: list[CheckResult] = []

    def values(key: str) -> dict:
        return resource_values(key, env, resolved=True)

    data_dir = Path(WarehouseResource(**values("warehouse")).data_dir).expanduser()
    # The run's resources, with one attempt and short timeouts: a check must answer quickly.
    runners: dict[str, Callable[[Report], None]] = {
        "settings": lambda r: check_settings(env, r),
        "quickbooks": lambda r: check_quickbooks(
            QuickBooksResource(**values("quickbooks")), env, r
        ),
        "ftp": lambda r: check_ftp(
            InventivFtpResource(**{**values("inventiv_ftp"), "timeout": 15, "retries": 1}), env, r
        ),
        "database": lambda r: check_database(
            InventivDbResource(**{**values("inventiv_db"), "timeout": 15}), env, r
        ),
        "mappings": lambda r: check_mappings(QbpaSettings(**values("qbpa")), data_dir, r),
    }
    for system in systems:
        report = Report(TITLES[system], results, redact)
        try:
            runners[system](report)
        except Exception as exc:  # a bug or an unforeseen failure must still give a report
            logger.debug("check of %s crashed", system, exc_info=True)
            report.add(
                "unexpected error",
                FAIL,
                f"{type(exc).__name__}: {first_line(exc)}",
                "re-run with --verbose and report the traceback",
            )
    return results


def main(argv: list[str] | None = None) -> int:
    """Run ``qbpa check``; return 1 when any check fails, else 0."""
    from qbpa_assets.ops_cli.check.command import main as command_main

    return command_main(argv)


__all__ = [
    "FAIL",
    "OK",
    "SKIP",
    "SYSTEMS",
    "WARN",
    "CheckResult",
    "Redactor",
    "format_table",
    "main",
    "run_checks",
    "summary_counts",
]
