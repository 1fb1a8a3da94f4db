"""Daily reconciliation check: the day's orders in the Inventiv DB, the ledger, QuickBooks.

``orders_reconciled`` runs with the order status (after every order run and every night) over
yesterday and today in ``QBPA_TIMEZONE``: counts and totals per status, from the Inventiv
database (the mapping's own SQL), the ledger and the documents QuickBooks holds. An order that
a run copied but that is neither created nor rejected fails the check, named in its metadata.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from qbpa_assets.defs.keys import ORDER_STATUS
from qbpa_assets.defs.partitions import TIMEZONE
from qbpa_assets.defs.resources.inventiv_db import InventivDbResource
from qbpa_assets.defs.resources.warehouse import WarehouseResource
from qbpa_assets.lib.markdown import markdown_table
from qbpa_assets.lib.orders.reconcile import Reconciliation, reconcile

RECONCILED_CHECK = "orders_reconciled"
DAYS = 2  # yesterday and today


class ReconcileConfig(dg.Config):
    """Which days to reconcile (default: yesterday and today in QBPA_TIMEZONE)."""

    last_day: str | None = None  # ISO date; default today
    days: int = DAYS


def _days(config: ReconcileConfig) -> list[date]:
    last = (
        date.fromisoformat(config.last_day)
        if config.last_day
        else datetime.now(ZoneInfo(TIMEZONE)).date()
    )
    return [last - timedelta(days=n) for n in range(max(1, config.days) - 1, -1, -1)]


def _rows(day: date, rec: Reconciliation) -> list[tuple]:
    rows: list[tuple] = [
        (day.isoformat(), "Inventiv DB", rec.inventiv_orders, str(rec.inventiv_total), "", "")
    ]
    rows += [(day.isoformat(), *line) for line in rec.table()]
    return rows


@dg.asset_check(
    asset=ORDER_STATUS,
    name=RECONCILED_CHECK,
    pool="duckdb",
    description=(
        "The day's orders in the Inventiv database against the ledger and QuickBooks (counts "
        "and totals per status); fails naming any order a run left neither created nor rejected."
    ),
)
def orders_reconciled(
    config: ReconcileConfig,
    inventiv_db: InventivDbResource,
    warehouse: WarehouseResource,
) -> dg.AssetCheckResult:
    """Reconcile yesterday and today (or the configured days)."""
    mapping = inventiv_db.mapping()
    rows: list[tuple] = []
    stranded: list[tuple[str, str, str]] = []
    waiting = missing = 0
    with warehouse.get_connection() as con, inventiv_db.get_db() as db:
        for day in _days(config):
            rec = reconcile(con, db, mapping, day, day + timedelta(days=1))
            rows += _rows(day, rec)
            stranded += [(day.isoformat(), oid, why) for oid, why in rec.stranded]
            waiting += len(rec.waiting)
            missing += len(rec.missing_in_quickbooks)
    return dg.AssetCheckResult(
        passed=not stranded,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            "every order is created or rejected"
            if not stranded
            else f"{len(stranded)} order(s) neither created nor rejected after their run: "
            + ", ".join(oid for _, oid, _ in stranded[:20])
        ),
        metadata={
            "reconciliation": dg.MetadataValue.md(
                markdown_table(
                    ["day", "status", "orders", "Inventiv total", "QuickBooks docs", "QBO total"],
                    rows,
                )
            ),
            "stranded": dg.MetadataValue.md(
                markdown_table(["day", "order id", "why"], stranded[:100])
            ),
            "stranded_count": len(stranded),
            "waiting_for_a_run": waiting,
            "created_but_not_in_quickbooks": missing,
        },
    )
