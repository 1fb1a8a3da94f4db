"""The declared variables, judged as a run would: invalid values, and the secrets to hide.

Every value goes through the validators of :mod:`qbpa_assets.config`, the same ones the
resources apply when a run starts, so ``qbpa check`` passes exactly what a run accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from qbpa_assets import config
from qbpa_assets.lib.redact import connection_string_secrets
from qbpa_assets.ops_cli.check.report import FAIL, OK, Report

# Systems without a check of their own: their variables are judged in the Settings row.
SETTINGS_SYSTEMS = ("orders", "warehouse", "alerts", "settings")


def env_secrets(env: Mapping[str, str]) -> list[str]:
    """Every secret value of the environment, as it may appear in a message."""
    values = [env.get(name) for name in config.SECRETS]
    # A password written into the connection string itself (instead of INVENTIV_DB_PASSWORD),
    # both as written (braced) and as the driver reads it.
    connection = env.get("INVENTIV_DB_CONNECTION") or ""
    for value in connection_string_secrets(connection):
        values += [value, "{" + value.replace("}", "}}") + "}"]
    try:
        password = urlsplit(env.get("INVENTIV_FTP_URL") or "").password
    except ValueError:
        password = None
    if password:
        values += [password, unquote(password)]
    return [v for v in values if v]


def problems_of(env: Mapping[str, str], *systems: str) -> list[config.ConfigError]:
    """The invalid values among the variables of ``systems``."""
    names = [v.name for v in config.VARIABLES if v.system in systems]
    return config.problems(env, names)


def describe(problems: list[config.ConfigError]) -> tuple[str, str]:
    """``(detail, fix)`` of a list of invalid values."""
    detail = "; ".join(str(p).split(". Allowed:")[0] for p in problems)
    fix = "; ".join(f"set {p.variable} to {p.allowed}" for p in problems)
    return detail, fix + f" (see {config.README_SECTION})"


def check_settings(env: Mapping[str, str], report: Report) -> None:
    """One row: the partition, warehouse, order and alert settings hold allowed values."""
    problems = problems_of(env, *SETTINGS_SYSTEMS)
    if problems:
        report.add("values", FAIL, *describe(problems))
        return
    shown = ("QBPA_TIMEZONE", "QBPA_PARTITION_START", "QBO_SALES_ORDER_ENTITY")
    parts = [f"{name}={config.value(name, env)}" for name in shown]
    report.add("values", OK, ", ".join(parts) + "; every other setting is valid")
