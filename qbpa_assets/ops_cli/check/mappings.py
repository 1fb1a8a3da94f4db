"""Mapping checks: every ``.fil`` layout and the order mapping compile against the staged schema.

The layouts are loaded by the same loader the export assets use, from the folder the ``qbpa``
resource names (``QBPA_MAPPINGS_DIR``), and validated against the warehouse's tables when they
are built, else against empty tables of the pipeline's own schema.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from qbpa_assets.defs.resources.warehouse import DATABASE_FILE, QbpaSettings
from qbpa_assets.ops_cli.check.report import FAIL, OK, Report, first_line

logger = logging.getLogger(__name__)

FIL_LAYOUTS = ("customer.fil", "item.fil", "invoice.fil", "vendor.fil", "salesrep.fil")


def check_mappings(settings: QbpaSettings, data_dir: Path, report: Report) -> None:
    """Every ``.fil`` layout and the order mapping compile against the staged schema."""
    from qbpa_assets.lib.mappings import MappingError, load_layout
    from qbpa_assets.lib.orders.mapping import (
        OrderMappingError,
        load_order_mapping,
        validate_mapping,
    )

    overrides = settings.mappings_path
    if overrides is not None and not overrides.is_dir():
        report.add(
            "QBPA_MAPPINGS_DIR",
            FAIL,
            f"{overrides} is not a folder",
            "create the folder or unset QBPA_MAPPINGS_DIR",
        )
        return
    empty = _empty_staged_schema(settings.sales_rep_source)
    warehouse = _open_warehouse(data_dir)
    try:
        for name in FIL_LAYOUTS:
            try:
                layout = load_layout(name, overrides)
                con, where = empty, "staged tables not built yet: their empty schema"
                if warehouse is not None and _has_table(warehouse, layout.source):
                    con, where = warehouse, "the warehouse's table"
                layout.validate(con)
            except MappingError as exc:
                is_override = bool(overrides and (overrides / f"{name}.toml").is_file())
                origin = "override" if is_override else "layout"
                report.add(
                    name,
                    FAIL,
                    first_line(exc),
                    f"fix the {origin} file named above"
                    + (" (or delete it to use the default)" if origin == "override" else ""),
                )
                continue
            kind = "override" if layout.is_override else "default"
            report.add(
                name,
                OK,
                f"{kind}: {len(layout.columns)} columns compile against {layout.source} ({where})",
            )
        try:
            mapping = load_order_mapping(overrides_dir=overrides)
            validate_mapping(empty, mapping)
        except OrderMappingError as exc:
            report.add(
                "orders.toml",
                FAIL,
                first_line(exc),
                "fix the expression named above in the order mapping (or delete the "
                "override to use the default)",
            )
        else:
            report.add(
                "orders.toml",
                OK,
                f"{len(mapping.header) + len(mapping.line)} expressions compile "
                f"({mapping.path}; orders become QBO_SALES_ORDER_ENTITY="
                f"{settings.sales_order_entity})",
            )
    finally:
        empty.close()
        if warehouse is not None:
            warehouse.close()


def _empty_staged_schema(rep_source: str):
    """An in-memory DuckDB with empty raw, staged and order tables of the pipeline's schema.

    Built by the same SQL the assets run, over empty raw tables, so the column names and types
    are exactly those a real run produces.
    """
    import duckdb

    from qbpa_assets.lib.invoices.staging import refresh_invoice_lines
    from qbpa_assets.lib.master_data.rep_source import parse_rep_source
    from qbpa_assets.lib.master_data.sales_reps import refresh_sales_reps
    from qbpa_assets.lib.master_data.staging import refresh_customers, refresh_items
    from qbpa_assets.lib.master_data.vendors import refresh_vendors
    from qbpa_assets.lib.orders.tables import ensure_tables
    from qbpa_assets.lib.warehouse import raw

    con = duckdb.connect(":memory:")
    raw.ensure_schema(con)
    refresh_customers(con)
    refresh_items(con)
    refresh_vendors(con)
    refresh_sales_reps(con, parse_rep_source(rep_source))
    refresh_invoice_lines(con, datetime(2000, 1, 1), datetime(2000, 1, 2))
    ensure_tables(con)
    return con


def _open_warehouse(data_dir: Path):
    """The warehouse opened read-only, or None (missing, or held by a running pipeline)."""
    import duckdb

    path = data_dir / DATABASE_FILE
    if not path.is_file():
        return None
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        logger.debug("warehouse %s not readable now: %s", path, exc)
        return None


def _has_table(con, qualified: str) -> bool:
    from qbpa_assets.lib.warehouse.tables import existing_tables

    schema, _, table = qualified.rpartition(".")
    return table in existing_tables(con, schema or "main")
