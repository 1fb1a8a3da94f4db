r"""Staging of sales reps: ``quickbooks.employees`` (raw) → ``staging.sales_reps``, by source.

``staging.sales_reps`` has one row per rep whatever the source (`RepSource`): ``id`` (what
``salesrep.fil`` exports and an order's ``REP_ID`` holds), ``code`` (short code or initials),
``name``, ``given_name``, ``family_name``, ``email``, ``phone``, ``active``, ``source`` and
``employee_id`` (the matching Employee, where there is one), ``last_updated``.

* ``employee``: one row per Employee (``quickbooks.employees`` holds Employees); ``id`` is the
  Employee Id, ``code`` the EmployeeNumber or else the initials.
* ``class``: one row per Class (``quickbooks.employees`` holds Classes); ``id`` is the Class
  Id, ``code`` the initials of its name; no contact details.
* ``custom_field:<name>``: one row per distinct value of the custom field on the landed
  invoices (``quickbooks.invoices``; deleted ones excepted); ``id`` is the value, ``code`` the
  value itself when it is one word of at most 8 characters, else the matching employee's
  EmployeeNumber, else its initials. ``quickbooks.employees`` holds Employees: a value equal to
  an employee's display name or EmployeeNumber (ignoring case), or to the initials of exactly
  one employee's name, takes that employee's name, e-mail, phone and active flag; other values
  are active reps of their own.

The rep of a transaction (`TXN_REP_SQL`) and the usual rep of a customer (`USUAL_REP_SELECT`)
are SQL fragments the invoice and customer staging include, bound with `RepSource.sql_params`.
"""

from __future__ import annotations

import logging
from typing import Any

import duckdb

from qbpa_assets.lib.master_data.rep_source import RepSource
from qbpa_assets.lib.warehouse import raw
from qbpa_assets.lib.warehouse.flatten import META, REF, V, shape
from qbpa_assets.lib.warehouse.tables import count_rows, ensure_schema, existing_tables

logger = logging.getLogger(__name__)

TABLE = "staging.sales_reps"
RAW_TABLE = "quickbooks.employees"
INVOICES_TABLE = "quickbooks.invoices"

EMPLOYEE_SHAPE: dict[str, Any] = {
    "Id": V,
    "DisplayName": V,
    "GivenName": V,
    "FamilyName": V,
    "EmployeeNumber": V,
    "PrimaryEmailAddr": {"Address": V},
    "PrimaryPhone": {"FreeFormNumber": V},
    "Mobile": {"FreeFormNumber": V},
    "Active": "BOOLEAN",
    "MetaData": META,
}
CLASS_SHAPE: dict[str, Any] = {
    "Id": V,
    "Name": V,
    "FullyQualifiedName": V,
    "Active": "BOOLEAN",
    "MetaData": META,
}
CUSTOM_FIELD = {"DefinitionId": V, "Name": V, "Type": V, "StringValue": V}
#: The header fields of a sales transaction (Invoice, Estimate, SalesReceipt) that can name its
#: rep; merged into a transaction's ``json_transform`` shape whose ``Line`` entries already
#: carry ``SalesItemLineDetail.ClassRef``, so that `TXN_REP_SQL` can read them.
TXN_REP_HEADER_SHAPE: dict[str, Any] = {"ClassRef": REF, "CustomField": [CUSTOM_FIELD]}
#: The same with the lines' classes: everything `txn_rep_sql` reads.
TXN_REP_SHAPE: dict[str, Any] = {
    **TXN_REP_HEADER_SHAPE,
    "Line": [{"SalesItemLineDetail": {"ClassRef": REF}}],
}


def initials(expr: str) -> str:
    """SQL: the upper-cased first letters of the words of ``expr`` (``Ana Ruiz`` → ``AR``)."""
    words = f"regexp_split_to_array(trim({expr}), '\\s+')"
    return (
        f"nullif(upper(array_to_string(list_transform(list_filter({words}, lambda w: w <> ''), "
        "lambda w: left(w, 1)), '')), '')"
    )


def txn_rep_sql(txn: str) -> str:
    """SQL: the rep id of a transaction struct ``txn`` parsed with `TXN_REP_SHAPE`.

    Binds ``$rep_source`` and ``$rep_field``. ``class``: the header ClassRef, else the first
    line's; ``custom_field``: the field's text (named as in the setting, ignoring case);
    ``employee``: NULL, since QuickBooks transactions have no employee field.
    """
    line_classes = (
        f"list_filter(list_transform({txn}.Line, lambda l: l.SalesItemLineDetail.ClassRef.value), "
        "lambda c: c IS NOT NULL)"
    )
    field_values = (
        f"list_transform(list_filter({txn}.CustomField, "
        "lambda f: lower(trim(f.Name)) = lower(trim($rep_field))), lambda f: f.StringValue)"
    )
    return (
        "CASE $rep_source\n"
        f"      WHEN 'class' THEN coalesce({txn}.ClassRef.value, {line_classes}[1])\n"
        f"      WHEN 'custom_field' THEN nullif(trim({field_values}[1]), '')\n"
        "    END"
    )


#: The rep id of the invoice struct ``v`` (the invoice staging's alias).
TXN_REP_SQL = txn_rep_sql("v")

#: ``(customer_id, usual_rep_id)``: the rep on most of the customer's landed invoices (ties: the
#: most recent, then the smallest id). Empty for ``employee``. Binds ``$rep_source``/``$rep_field``.
USUAL_REP_SELECT = f"""
SELECT customer_id, rep_id AS usual_rep_id
FROM (
  SELECT customer_id, rep_id, count(*) AS n, max(last_updated) AS last_seen
  FROM (
    SELECT t.CustomerRef.value AS customer_id, {txn_rep_sql("t")} AS rep_id, last_updated
    FROM (
      SELECT last_updated,
             json_transform(payload, {shape({"CustomerRef": REF, **TXN_REP_SHAPE})}) AS t
      FROM {INVOICES_TABLE}
      WHERE $rep_source <> 'employee' AND NOT coalesce(deleted, false)
    )
  )
  WHERE rep_id IS NOT NULL AND customer_id IS NOT NULL
  GROUP BY customer_id, rep_id
)
QUALIFY row_number() OVER (
    PARTITION BY customer_id ORDER BY n DESC, last_seen DESC NULLS LAST, rep_id) = 1
"""

_EMPLOYEES = f"""
  SELECT CAST(r.id AS VARCHAR) AS id, r.last_updated,
         CAST(coalesce(r.active, e.Active, true) AS BOOLEAN) AS active,
         nullif(trim(e.EmployeeNumber), '') AS number,
         coalesce(e.DisplayName, concat_ws(' ', e.GivenName, e.FamilyName)) AS name,
         {initials("coalesce(e.DisplayName, concat_ws(' ', e.GivenName, e.FamilyName))")}
           AS initials,
         e.GivenName AS given_name, e.FamilyName AS family_name,
         e.PrimaryEmailAddr.Address AS email,
         coalesce(e.PrimaryPhone.FreeFormNumber, e.Mobile.FreeFormNumber) AS phone
  FROM (SELECT *, json_transform(payload, {shape(EMPLOYEE_SHAPE)}) AS e FROM {RAW_TABLE}) AS r
"""

_ORDER = "ORDER BY TRY_CAST(id AS BIGINT) NULLS LAST, id"

EMPLOYEE_REPS_SQL = f"""
CREATE OR REPLACE TABLE {TABLE} AS
SELECT id, coalesce(number, {initials("concat_ws(' ', given_name, family_name)")}) AS code,
       name, given_name, family_name, email, phone, active, 'employee' AS source,
       id AS employee_id, last_updated
FROM ({_EMPLOYEES})
{_ORDER}
"""

CLASS_REPS_SQL = f"""
CREATE OR REPLACE TABLE {TABLE} AS
WITH src AS (
  SELECT r.id, r.last_updated, r.active, json_transform(r.payload, {shape(CLASS_SHAPE)}) AS c
  FROM {RAW_TABLE} AS r
)
SELECT CAST(id AS VARCHAR) AS id, {initials("c.Name")} AS code,
       coalesce(c.Name, c.FullyQualifiedName) AS name,
       CAST(NULL AS VARCHAR) AS given_name, CAST(NULL AS VARCHAR) AS family_name,
       CAST(NULL AS VARCHAR) AS email, CAST(NULL AS VARCHAR) AS phone,
       CAST(coalesce(active, c.Active, true) AS BOOLEAN) AS active, 'class' AS source,
       CAST(NULL AS VARCHAR) AS employee_id, last_updated
FROM src
{_ORDER}
"""

CUSTOM_FIELD_REPS_SQL = f"""
CREATE OR REPLACE TABLE {TABLE} AS
WITH seen AS (
  SELECT nullif(trim(f.StringValue), '') AS value, last_updated
  FROM (
    SELECT last_updated,
           unnest(json_transform(payload, {shape({"CustomField": [CUSTOM_FIELD]})}).CustomField)
             AS f
    FROM {INVOICES_TABLE}
    WHERE NOT coalesce(deleted, false)
  )
  WHERE lower(trim(f.Name)) = lower(trim($rep_field))
),
reps AS (
  SELECT value, max(last_updated) AS last_seen FROM seen WHERE value IS NOT NULL GROUP BY value
),
emp AS (
  SELECT *, count(*) OVER (PARTITION BY initials) AS same_initials FROM ({_EMPLOYEES})
),
matched AS (
  -- By display name or EmployeeNumber; else by initials when only one employee has them.
  SELECT r.value, r.last_seen, e.*,
         lower(r.value) = lower(e.name) OR lower(r.value) = lower(e.number) AS exact
  FROM reps AS r
  LEFT JOIN emp AS e
    ON lower(r.value) = lower(e.name) OR lower(r.value) = lower(e.number)
       OR (upper(r.value) = e.initials AND e.same_initials = 1)
  QUALIFY row_number() OVER (
      PARTITION BY r.value
      ORDER BY exact DESC NULLS LAST, e.active DESC NULLS LAST, TRY_CAST(e.id AS BIGINT), e.id
  ) = 1
)
SELECT value AS id,
       CASE WHEN length(value) <= 8 AND NOT contains(value, ' ') THEN value
            ELSE coalesce(number, {initials("value")}) END AS code,
       coalesce(name, value) AS name, given_name, family_name, email, phone,
       coalesce(active, true) AS active, 'custom_field' AS source, id AS employee_id,
       last_seen AS last_updated
FROM matched
ORDER BY value
"""

_SQL = {"employee": EMPLOYEE_REPS_SQL, "class": CLASS_REPS_SQL}

_FILL_USUAL_REPS_SQL = f"""
UPDATE staging.customers_stored AS c SET usual_rep_id = ur.usual_rep_id
FROM ({USUAL_REP_SELECT}) AS ur
WHERE ur.customer_id = c.id
"""


def fill_usual_reps(con: duckdb.DuckDBPyConnection, source: RepSource) -> int:
    """Set ``staging.customers_stored.usual_rep_id`` from the landed invoices (`USUAL_REP_SELECT`).

    Nothing to do for ``employee`` (transactions name no employee) or before any invoice table
    exists; the column then stays NULL.

    Returns:
        Number of customers given a usual rep.
    """
    if source.kind == "employee" or "invoices" not in existing_tables(con, "quickbooks"):
        return 0
    row = con.execute(_FILL_USUAL_REPS_SQL, source.sql_params).fetchone()
    return int(row[0]) if row else 0


def refresh_sales_reps(con: duckdb.DuckDBPyConnection, source: RepSource) -> int:
    """Rebuild ``staging.sales_reps`` from the raw rows of ``source``.

    Args:
        con: DuckDB connection holding ``quickbooks.employees`` (and, for a custom field,
            ``quickbooks.invoices``).
        source: Where the company keeps its reps.

    Returns:
        Number of staged reps.
    """
    ensure_schema(con, "staging")
    if source.kind == "custom_field":
        if "invoices" not in existing_tables(con, "quickbooks"):
            # A fresh install: no invoice has landed yet, so no rep value has been seen. The
            # table is built empty (the run still succeeds) and fills once invoices land.
            raw.ensure_schema(con)
            logger.warning(
                "%s: no invoices landed yet, so no '%s' values are known; run "
                "nightly_invoice_job (or backfill it) to learn the reps",
                TABLE,
                source.field_name,
            )
        con.execute(CUSTOM_FIELD_REPS_SQL, {"rep_field": source.field_name})
    else:
        con.execute(_SQL[source.kind])
    rows = count_rows(con, TABLE)
    logger.info("%s (%s): %d rows", TABLE, source.setting, rows)
    return rows
