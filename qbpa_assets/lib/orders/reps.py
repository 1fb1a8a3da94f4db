"""The sales rep of an order: validated against ``staging.sales_reps``, written by source.

An order's ``REP_ID`` holds the id ``salesrep.fil`` exported (``staging.sales_reps.id``). As a
fallback, a ``REP_ID`` that is no staged id but the ``employee_id`` of exactly one staged rep
stands for that rep: a PocketAdvantage install that keeps Employee Ids (the ``employee`` source's
ids) works with ``custom_field:<name>`` too, and the rep's staged id (the field's value, e.g. the
initials) is what is written. The rep is checked like the customer and the items: a rep that is
not in the staged reps (an Employee Id shared by several values is not), or is inactive,
rejects the order with the reason; an empty ``REP_ID`` means "no rep" and is not a reason. Until
``staging/sales_reps`` has been built for the configured source, reps are not checked (the
import warns) and ``REP_ID`` is written as it is.

How the rep travels into the QuickBooks document depends on ``QBPA_SALES_REP_SOURCE``:

* ``custom_field:<name>``: as the transaction custom field of that name, by the
  ``DefinitionId`` the company's Preferences give it (``SalesFormsPrefs.CustomField``). A name
  the Preferences do not define is a configuration error that fails the run before any order
  is sent.
* ``class``: as the document's ``ClassRef`` (and each line's when the company tracks classes
  per line, ``AccountingInfoPrefs.ClassTrackingPerTxnLine``).
* ``employee``: not at all — QuickBooks Online transactions have no employee field — and the
  import says so once per run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb

from qbpa_assets.lib.master_data.rep_source import VARIABLE, RepSource
from qbpa_assets.lib.warehouse.tables import existing_tables

_LOG = logging.getLogger(__name__)

EMPLOYEE_NOT_WRITTEN = (
    "Sales reps come from Employees (QBPA_SALES_REP_SOURCE=employee): QuickBooks Online "
    "transactions have no employee field, so an order's REP_ID is validated but not written into "
    "the QuickBooks document. Use custom_field:<name> or class to carry the rep."
)
REPS_NOT_STAGED = (
    "staging/sales_reps has not been built for the current QBPA_SALES_REP_SOURCE yet: the "
    "orders' REP_ID values are not checked. Run nightly_master_data_job (or materialize "
    "staging/sales_reps)."
)

# The staged reps by every key an order's REP_ID may hold: the rep's id (via 0), else the
# Employee Id of exactly one staged rep (via 1, the documented fallback).
_REP_KEYS_SQL = """
SELECT id AS rep_key, id, name, active, 0 AS via FROM staging.sales_reps
UNION ALL
SELECT employee_id, any_value(id), any_value(name), any_value(active), 1
  FROM staging.sales_reps WHERE nullif(trim(employee_id), '') IS NOT NULL
 GROUP BY employee_id HAVING count(*) = 1
"""


def _matched_reps_sql(orders: str) -> str:
    """SQL: ``(order_id, rep, id, name, active)`` for each order of ``orders`` that has a rep.

    ``rep`` is the trimmed ``REP_ID``; ``id``, ``name`` and ``active`` are the staged rep's it
    stands for (an id match before an Employee Id match), NULL when it stands for none.
    """
    return f"""(
  SELECT o.order_id, trim(o.rep_id) AS rep, s.id, s.name, s.active
    FROM {orders} AS o LEFT JOIN ({_REP_KEYS_SQL}) AS s ON s.rep_key = trim(o.rep_id)
   WHERE nullif(trim(o.rep_id), '') IS NOT NULL
  QUALIFY row_number() OVER (PARTITION BY o.order_id ORDER BY s.via NULLS LAST) = 1
)"""


# The rules of an order's rep: branches of the validation's reasons union (:mod:`.validate`),
# over its staged orders ``o``, in the words of the other reasons; ranks 25/26 sort them after
# the customer's (20/21) and before the lines' (30+). Binds ``$rep_unknown``.
REP_REASONS_SQL = f"""
SELECT m.order_id, 25 AS k, 0 AS n, 'sales rep ' || m.rep || ' ' || $rep_unknown AS reason
  FROM {_matched_reps_sql("o")} AS m
 WHERE m.id IS NULL
UNION ALL
SELECT m.order_id, 26, 0,
       'sales rep ' || m.rep || ' (' || coalesce(m.name, '?') || ') is inactive in QuickBooks'
  FROM {_matched_reps_sql("o")} AS m
 WHERE m.id IS NOT NULL AND NOT coalesce(m.active, false)
"""


class RepConfigError(ValueError):
    """The rep source cannot be used with this company (the message names the variable)."""


def reps_staged(con: duckdb.DuckDBPyConnection, source: RepSource | None = None) -> bool:
    """Whether reps can be checked: ``staging.sales_reps`` exists, built for ``source``.

    A table staged for another source (the setting changed since the last master-data run)
    does not count: checking Class Ids against Employees would reject every order.
    """
    if "sales_reps" not in existing_tables(con):
        return False
    if source is None:
        return True
    row = con.execute(
        "SELECT count(*) FROM staging.sales_reps WHERE source IS DISTINCT FROM ?", [source.kind]
    ).fetchone()
    return not (row and row[0])


def unknown_rep_phrase(source: RepSource) -> str:
    """How a reason says that a rep is not in the staged reps of ``source``."""
    if source.kind == "custom_field":
        return f"is not a value of the QuickBooks custom field {source.field_name!r}"
    return f"is not a QuickBooks {source.kind}"


def prepare(
    con: duckdb.DuckDBPyConnection, client: Any, source: RepSource, logger: Any = None
) -> RepWriter:
    """The run's rep writer; warns when the reps cannot be checked yet.

    Reads the company's Preferences (one request) for a custom-field source only.

    Raises:
        RepConfigError: The custom field is not defined by the company.
    """
    log = logger or _LOG
    if not reps_staged(con, source):
        log.warning(REPS_NOT_STAGED)
    preferences = client.preferences() if source.kind == "custom_field" else {}
    return rep_writer(source, preferences, log)


def write_reps(
    con: duckdb.DuckDBPyConnection, writer: RepWriter, payloads: dict[str, dict[str, Any]]
) -> None:
    """Write each order's rep (from ``inventiv_db.orders``) into its payload, in place.

    The rep written is the staged id its ``REP_ID`` stands for (itself, or the one rep whose
    Employee Id it is); before the reps are staged for the source, ``REP_ID`` as it is.
    """
    if writer.source.kind == "employee" or not payloads:
        return
    orders = (
        "(SELECT order_id, rep_id FROM inventiv_db.orders "
        "WHERE order_id IN (SELECT unnest(?::VARCHAR[])))"
    )
    if reps_staged(con, writer.source):
        sql = f"SELECT order_id, coalesce(id, rep) FROM {_matched_reps_sql(orders)}"
    else:
        sql = f"SELECT order_id, rep_id FROM {orders}"
    rows = con.execute(sql, [list(payloads)]).fetchall()
    for order_id, rep_id in rows:
        writer.apply(payloads[order_id], rep_id)


def _custom_field_entries(node: Any) -> Iterator[dict[str, Any]]:
    """Every leaf custom-field entry under ``SalesFormsPrefs.CustomField`` (nested or flat)."""
    if isinstance(node, list):
        for item in node:
            yield from _custom_field_entries(item)
    elif isinstance(node, dict):
        if isinstance(node.get("CustomField"), list):
            yield from _custom_field_entries(node["CustomField"])
        else:
            yield node


_NAME_KEY = re.compile(r"SalesCustomName(\d+)$")
_USE_KEY = re.compile(r"UseSalesCustom(\d+)$")


def custom_field_definitions(preferences: dict[str, Any]) -> dict[str, str]:
    """The company's transaction custom fields: name (lower-cased) → ``DefinitionId``.

    Reads both shapes QuickBooks uses: entries naming ``SalesFormsPrefs.SalesCustomName<N>``
    (``DefinitionId`` N, the label in ``StringValue``; a field whose ``UseSalesCustom<N>`` is
    false is off) and entries carrying ``DefinitionId`` and ``Name`` directly.
    """
    entries = list(
        _custom_field_entries((preferences.get("SalesFormsPrefs") or {}).get("CustomField"))
    )
    off = {
        m.group(1)
        for e in entries
        if (m := _USE_KEY.search(str(e.get("Name", "")))) and e.get("BooleanValue") is False
    }
    found: dict[str, str] = {}
    for entry in entries:
        name = str(entry.get("Name") or "")
        if match := _NAME_KEY.search(name):
            label, def_id = entry.get("StringValue"), match.group(1)
        elif entry.get("DefinitionId") and not _USE_KEY.search(name):
            label, def_id = name, str(entry["DefinitionId"])
        else:
            continue
        if isinstance(label, str) and label.strip() and def_id not in off:
            found.setdefault(label.strip().lower(), def_id)
    return found


@dataclass(frozen=True)
class RepWriter:
    """Puts an order's rep into its QuickBooks payload, the way the source says.

    Attributes:
        source: The rep source.
        definition_id: The custom field's ``DefinitionId`` (``custom_field`` only).
        class_per_line: Also set ``ClassRef`` on each sales line (``class`` only).
    """

    source: RepSource
    definition_id: str | None = None
    class_per_line: bool = False

    def apply(self, payload: dict[str, Any], rep_id: str | None) -> None:
        """Write ``rep_id`` into ``payload`` (in place); a blank rep leaves it untouched."""
        rep = (rep_id or "").strip()
        if not rep or self.source.kind == "employee":
            return
        if self.source.kind == "custom_field":
            fields = [
                f
                for f in payload.get("CustomField") or []
                if str(f.get("DefinitionId")) != self.definition_id
            ]
            fields.append(
                {
                    "DefinitionId": self.definition_id,
                    "Name": self.source.field_name,
                    "Type": "StringType",
                    "StringValue": rep,
                }
            )
            payload["CustomField"] = fields
            return
        payload["ClassRef"] = {"value": rep}
        if self.class_per_line:
            for line in payload.get("Line") or []:
                detail = line.get("SalesItemLineDetail")
                if isinstance(detail, dict):
                    detail.setdefault("ClassRef", {"value": rep})


def rep_writer(source: RepSource, preferences: dict[str, Any], logger: Any = None) -> RepWriter:
    """Build the writer for ``source`` from the company's Preferences.

    Args:
        source: The rep source.
        preferences: The company's ``Preferences`` object (``client.preferences()``).
        logger: Where the one message about Employees goes (default: this module's logger).

    Raises:
        RepConfigError: ``custom_field:<name>`` names a field the company does not define.
    """
    log = logger or _LOG
    if source.kind == "employee":
        log.info(EMPLOYEE_NOT_WRITTEN)
        return RepWriter(source)
    if source.kind == "class":
        acct = preferences.get("AccountingInfoPrefs") or {}
        return RepWriter(source, class_per_line=bool(acct.get("ClassTrackingPerTxnLine")))
    definitions = custom_field_definitions(preferences)
    name = (source.field_name or "").strip()
    def_id = definitions.get(name.lower())
    if def_id is None:
        known = ", ".join(sorted(definitions)) or "none"
        raise RepConfigError(
            f"{VARIABLE}={source.setting}: the company defines no transaction custom field "
            f"named {name!r} (Settings → Sales → Custom fields; defined: {known})"
        )
    return RepWriter(source, definition_id=def_id)
