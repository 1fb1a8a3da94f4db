"""Values from any ODBC driver made comparable: dates, timestamps, text, JSON.

Every Inventiv install runs on a different database, and each driver hands back its own types
(SQLite text dates, PostgreSQL ``date`` objects, SQL Server ``Decimal``). These helpers turn
them into one form before they reach DuckDB or QuickBooks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any


def to_date(value: Any) -> date | None:
    """Normalize a date from any driver (date, datetime, ISO text) or None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(str(value).strip()).date()
    except ValueError:
        return None


def to_datetime(value: Any) -> datetime | None:
    """Normalize a timestamp from any driver (datetime, date, ISO text) to a naive datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    else:
        try:
            result = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    if result.tzinfo is not None:
        result = result.astimezone(UTC).replace(tzinfo=None)
    return result


def to_text(value: Any) -> str | None:
    """One source value as text for the typed cast in DuckDB (None stays None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        # SQLite may hand back 12.0 for an integer id: keep ids comparable to QuickBooks Ids.
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def json_value(value: Any) -> Any:
    """A DuckDB result value as QuickBooks' JSON wants it (Decimal → int/float, dates ISO)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def id_sort_key(value: Any) -> tuple[int, Any]:
    """Sort key for order ids that may be ints or strings (ints first, numerically)."""
    if isinstance(value, bool) or value is None:
        return (2, str(value))
    if isinstance(value, int):
        return (0, value)
    text = str(value)
    if text.lstrip("-").isdigit():
        return (0, int(text))
    return (1, text)
