"""Inventiv database checks: the order mapping loads, the connection opens, each query runs.

The mapping and the connection come from the :class:`InventivDbResource` a run builds: the
same loader, the same ODBC client, the same password handling.
"""

from __future__ import annotations

from datetime import date, datetime

from qbpa_assets.defs.resources.inventiv_db import InventivDbResource
from qbpa_assets.ops_cli.check.report import FAIL, OK, Report, first_line
from qbpa_assets.ops_cli.check.settings import describe, problems_of

QUERIES = ("orders_sql", "lines_sql", "new_orders_sql")


def check_database(resource: InventivDbResource, env, report: Report) -> None:
    """Connection, then each order query of the mapping with an empty window."""
    from qbpa_assets.lib.inventiv.db import InventivDbError
    from qbpa_assets.lib.orders.mapping import OrderMappingError
    from qbpa_assets.lib.orders.tables import LINE_COLUMNS, ORDER_COLUMNS

    later = ["connect"] + [f"query {q}" for q in QUERIES]
    problems = problems_of(env, "database")
    if problems:
        report.add("variables", FAIL, *describe(problems))
        report.skip(later, "database configuration invalid")
        return
    if not (resource.connection_string or "").strip():
        report.add(
            "variables",
            FAIL,
            "not set: INVENTIV_DB_CONNECTION",
            "set INVENTIV_DB_CONNECTION to an ODBC connection string without the password "
            "(e.g. Driver={ODBC Driver 18 for SQL Server};Server=host;Database=inventiv;"
            "Uid=qbpa) and INVENTIV_DB_PASSWORD to the password",
        )
        report.skip(later, "INVENTIV_DB_CONNECTION missing")
        return
    try:
        mapping = resource.mapping()
    except (OrderMappingError, OSError) as exc:
        report.add(
            "variables",
            FAIL,
            f"order mapping: {first_line(exc)}",
            "fix orders.toml in QBPA_MAPPINGS_DIR (or remove it to use the default)",
        )
        report.skip(later, "order mapping invalid")
        return
    report.add("variables", OK, f"order mapping {mapping.path}")
    with resource.get_db() as db:
        try:
            db.connect()
        except InventivDbError as exc:
            report.add(
                "connect",
                FAIL,
                first_line(exc),
                "check INVENTIV_DB_CONNECTION: the Driver name must be one `odbcinst -q -d` "
                "lists; check server, port, database and user; the password belongs in "
                "INVENTIV_DB_PASSWORD",
            )
            report.skip(later[1:], "no connection")
            return
        report.add("connect", OK, f"connected ({db.safe_connection_string})")
        # An empty window: the statements are prepared and run, and return no rows.
        nowhere = date(1900, 1, 1)
        runs: list[tuple[str, list, tuple[str, ...]]] = [
            ("orders_sql", [nowhere, nowhere], ORDER_COLUMNS),
            ("lines_sql", [nowhere, nowhere], LINE_COLUMNS),
            ("new_orders_sql", [datetime(9999, 1, 1)], ("order_id", "order_date", "modified_at")),
        ]
        for name, params, expected in runs:
            try:
                columns, _rows = db.fetch_all(getattr(mapping, name), params)
            except InventivDbError as exc:
                report.add(
                    f"query {name}",
                    FAIL,
                    first_line(exc),
                    f"fix [source] {name} in {mapping.path} for this database's tables",
                )
                continue
            absent = [c for c in expected if c not in columns]
            if absent:
                report.add(
                    f"query {name}",
                    FAIL,
                    f"runs, but lacks column(s) {', '.join(absent)} (got {', '.join(columns)})",
                    f"alias the columns with AS in [source] {name} of {mapping.path}",
                )
            else:
                report.add(f"query {name}", OK, f"runs; returns {', '.join(expected)}")
