"""The query language's meaning: which stored objects a :class:`Query` selects, in what order.

Fields may be dotted (``MetaData.LastUpdatedTime``) and a reference field (``CustomerRef``)
compares its ``value``. Date-times with offsets are compared as instants, like QBO does. List
entities hide inactive rows unless the WHERE clause mentions ``Active``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from qbpa_assets.sandbox.query.parser import Condition, Query

# QBO "list" entities: inactive rows are hidden unless the WHERE clause mentions Active.
LIST_ENTITIES = frozenset(
    {
        "Account",
        "Class",
        "Customer",
        "Department",
        "Employee",
        "Item",
        "PaymentMethod",
        "TaxCode",
        "TaxRate",
        "Term",
        "Vendor",
    }
)


_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@functools.lru_cache(maxsize=1_000_000)
def instant(text: str) -> float:
    """Return the POSIX timestamp of an ISO date-time (naive means UTC), or NaN if invalid."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return float("nan")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def get_path(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    """Return the value at a dotted path; a reference dict yields its ``value``."""
    value: Any = obj
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
        if value is None:
            return None
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


def _coerce_pair(field_value: Any, literal: Any, path: tuple[str, ...]) -> tuple[Any, Any] | None:
    """Bring a stored value and a literal to comparable types (None: not comparable)."""
    if field_value is None:
        return None
    if isinstance(literal, bool):
        if isinstance(field_value, bool):
            return field_value, literal
        return str(field_value).lower() == "true", literal
    if isinstance(literal, (int, float)):
        try:
            return float(field_value), float(literal)
        except (TypeError, ValueError):
            return None
    if isinstance(field_value, bool):
        return field_value, str(literal).lower() == "true"
    if isinstance(field_value, (int, float)):
        try:
            return float(field_value), float(literal)
        except ValueError:
            return None
    text = str(field_value)
    if _DATETIME_RE.match(text) and (_DATETIME_RE.match(literal) or _DATE_RE.match(literal)):
        return instant(text), instant(literal)
    if path[-1] == "Id" and text.isdigit() and literal.isdigit():
        return int(text), int(literal)
    return text, literal


def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in pattern.split("%")]
    return re.compile("^" + ".*".join(parts) + "$", re.IGNORECASE | re.DOTALL)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def compile_condition(cond: Condition) -> Callable[[dict[str, Any]], bool]:
    """Return a predicate over stored objects for one condition."""
    path = cond.path
    if cond.op == "LIKE":
        regex = _like_regex(cond.values[0])

        def like(obj: dict[str, Any]) -> bool:
            value = get_path(obj, path)
            return value is not None and regex.match(str(value)) is not None

        return like
    if cond.op == "IN":
        literals = cond.values

        def in_(obj: dict[str, Any]) -> bool:
            value = get_path(obj, path)
            for lit in literals:
                pair = _coerce_pair(value, lit, path)
                if pair is not None and pair[0] == pair[1]:
                    return True
            return False

        return in_
    op = _OPS[cond.op]
    literal = cond.values[0]

    def compare(obj: dict[str, Any]) -> bool:
        pair = _coerce_pair(get_path(obj, path), literal, path)
        if pair is None:
            return False
        try:
            return op(pair[0], pair[1])
        except TypeError:
            return False

    return compare


def _sort_key(path: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    def key(obj: dict[str, Any]) -> tuple[int, Any]:
        value = get_path(obj, path)
        if value is None:
            return (0, 0)
        if isinstance(value, (bool, int, float)):
            return (1, float(value))
        text = str(value)
        if path[-1] == "Id" and text.isdigit():
            return (1, int(text))
        if _DATETIME_RE.match(text):
            return (1, instant(text))
        return (2, text.casefold())

    return key


def evaluate(query: Query, rows: Iterable[dict[str, Any]], *, hide_inactive: bool) -> list[Any]:
    """Filter and order rows for a query (paging is the caller's job).

    Args:
        query: The parsed query.
        rows: The stored objects of the entity, in their natural (Id) order.
        hide_inactive: Drop rows with ``Active == False`` (the QBO list-entity rule).

    Returns:
        The matching rows, ordered.
    """
    predicates = [compile_condition(c) for c in query.conditions]
    if hide_inactive:
        predicates.insert(0, lambda obj: obj.get("Active", True) is not False)
    if predicates:
        result = [obj for obj in rows if all(p(obj) for p in predicates)]
    else:
        result = list(rows)
    # Stable sorts applied last-key-first give a multi-key order with per-key direction.
    for path, desc in reversed(query.order):
        result.sort(key=_sort_key(path), reverse=desc)
    return result


def project(obj: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    """Return ``obj`` reduced to the selected top-level fields (QBO marks it sparse)."""
    if fields is None:
        return obj
    out: dict[str, Any] = {}
    for name in fields:
        top = name.split(".")[0]
        for key in obj:
            if key.lower() == top.lower():
                out[key] = obj[key]
    for key in ("Id", "domain"):
        if key in obj:
            out.setdefault(key, obj[key])
    out["sparse"] = True
    return out
