"""SQL building blocks that flatten raw QuickBooks JSON into typed staged columns.

Each staged table parses a raw ``payload`` exactly once with ``json_transform`` into a STRUCT
shaped like the QBO object (missing keys become NULL, unknown keys are ignored), then picks its
columns from that struct. Parsing once per document matters: an invoice is a few kB of JSON and
one ``->>`` per column would parse it again for every column.

Numbers are read as VARCHAR so that the text QuickBooks sent survives: :func:`number` gives a
DOUBLE column for SQL arithmetic plus its ``*_text`` companion (``150.0`` stays ``150.0``, ``150``
stays ``150``), which the default ``.fil`` layouts export; a DOUBLE would print ``150`` as
``150.0``.
"""

from __future__ import annotations

import json
from typing import Any

V = "VARCHAR"
REF = {"value": V, "name": V}
ADDR = {
    "Id": V,
    "Line1": V,
    "Line2": V,
    "Line3": V,
    "Line4": V,
    "Line5": V,
    "City": V,
    "CountrySubDivisionCode": V,
    "PostalCode": V,
    "Country": V,
}
META = {"CreateTime": "TIMESTAMPTZ", "LastUpdatedTime": "TIMESTAMPTZ"}

_ADDR_PARTS = [
    ("line1", "Line1"),
    ("line2", "Line2"),
    ("line3", "Line3"),
    ("line4", "Line4"),
    ("line5", "Line5"),
    ("city", "City"),
    ("state", "CountrySubDivisionCode"),
    ("postal_code", "PostalCode"),
    ("country", "Country"),
]


def shape(structure: dict[str, Any]) -> str:
    """The SQL string literal of a ``json_transform`` structure.

    The shapes are module constants without quotes, so a SQL string literal is safe here;
    ``json_transform`` needs a constant structure argument, not a bound parameter.
    """
    return "'" + json.dumps(structure, separators=(",", ":")) + "'"


def number(expr: str, name: str) -> str:
    """A DOUBLE column ``name`` plus its as-sent ``name_text`` companion."""
    return f"TRY_CAST({expr} AS DOUBLE) AS {name},\n    {expr} AS {name}_text"


def address(prefix: str, expr: str) -> str:
    """The columns ``<prefix>_line1`` … ``<prefix>_country`` of a QBO address struct."""
    return ",\n    ".join(f"{expr}.{key} AS {prefix}_{col}" for col, key in _ADDR_PARTS)
