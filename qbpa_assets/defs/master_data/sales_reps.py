"""Sales reps: the configured source → ``staging/sales_reps`` → ``salesrep.fil`` (nightly, full).

QuickBooks Online has no sales-rep list; ``QBPA_SALES_REP_SOURCE`` says what stands for one
(:mod:`qbpa_assets.lib.master_data.rep_source`: Employees by default, Classes, or a transaction
custom field). The same reps validate the orders (``staging/sales_reps → quickbooks/sales_orders``).
"""

import dagster as dg

from qbpa_assets.defs import keys
from qbpa_assets.defs.inventiv_ftp import full_fil_asset
from qbpa_assets.defs.master_data.assets import (
    RAW_ASSET,
    STAGED_ASSET,
    land_list_entity,
    staged_result,
)
from qbpa_assets.defs.master_data.checks import unique_ids_check
from qbpa_assets.defs.resources.quickbooks import QuickBooksResource
from qbpa_assets.defs.resources.warehouse import QbpaSettings, WarehouseResource
from qbpa_assets.lib.master_data import sales_reps


@dg.asset(key=keys.QBO_EMPLOYEES, **RAW_ASSET)
def quickbooks_employees(
    context: dg.AssetExecutionContext,
    quickbooks: QuickBooksResource,
    warehouse: WarehouseResource,
    qbpa: QbpaSettings,
) -> dg.MaterializeResult:
    """The raw rows of the sales-rep source, active and inactive, as QuickBooks sent them.

    Grain: one row per entity (id, sync token, last updated, active, JSON payload), replaced as a
    whole each night. What it holds depends on ``QBPA_SALES_REP_SOURCE``: the **Employees** for
    ``employee`` and for ``custom_field:<name>`` (there the reps are the field's values on the
    landed invoices, and an employee whose name or number equals a value gives that rep's
    name, e-mail and phone); the **Classes** for ``class``. The ``entity`` metadata says which.
    """
    source = qbpa.rep_source
    landed = land_list_entity(context, source.raw_entity, quickbooks, warehouse)
    return dg.MaterializeResult(
        metadata={**landed.metadata, "entity": source.raw_entity, "rep_source": source.setting}
    )


@dg.asset(
    key=keys.STAGING_SALES_REPS,
    # A custom-field source also reads the landed invoices (quickbooks.invoices, the values seen
    # on them); the designed lineage shows the rep source only.
    deps=[keys.QBO_EMPLOYEES],
    **STAGED_ASSET,
)
def staging_sales_reps(warehouse: WarehouseResource, qbpa: QbpaSettings) -> dg.MaterializeResult:
    """Sales reps from the configured source: one row per rep, active and inactive.

    Columns: ``id`` (what ``salesrep.fil`` exports and an order's ``REP_ID`` must hold: the
    Employee Id, the Class Id, or the custom field's text), ``code`` (number or initials),
    ``name``, ``given_name``, ``family_name``, ``email``, ``phone``, ``active``, ``source``,
    ``employee_id``. The source of ``salesrep.fil`` and of the orders' rep validation.
    """
    source = qbpa.rep_source
    with warehouse.get_connection() as con:
        rows = sales_reps.refresh_sales_reps(con, source)
        inactive = con.execute(
            f"SELECT count(*) FROM {keys.table_name(keys.STAGING_SALES_REPS)} WHERE NOT active"
        ).fetchone()[0]
        return staged_result(
            con, keys.STAGING_SALES_REPS, rows, inactive_rows=inactive, rep_source=source.setting
        )


unique_sales_rep_ids = unique_ids_check(
    keys.STAGING_SALES_REPS,
    "unique_sales_rep_ids",
    "Each sales rep id appears once: an order's REP_ID must name exactly one rep.",
)


salesrep_fil = full_fil_asset(
    keys.SALESREP_FIL,
    keys.STAGING_SALES_REPS,
    "salesrep.fil",
    """``salesrep.fil`` in ``latest<account_id>/`` on the Inventiv FTP: the company's sales reps.

    Tab-delimited, one rep per line, columns from the ``salesrep.fil`` layout. ``SALESREP_ID`` is
    the value PocketAdvantage puts in an order's ``REP_ID``. Atomic upload as for
    ``customer.fil``; a local copy stays in ``QBPA_DATA_DIR/exports/``.
    """,
)
