"""Transaction custom fields: defined in Preferences, carried by sales transactions.

A company defines up to three String custom fields in ``Preferences.SalesFormsPrefs.CustomField``
(QBO's shape: ``SalesFormsPrefs.UseSalesCustom<N>`` switches and ``SalesFormsPrefs.
SalesCustomName<N>`` labels; ``N`` is the field's ``DefinitionId``). An Invoice, Estimate or
SalesReceipt write may send ``CustomField: [{"DefinitionId": "1", "StringValue": "AR"}, …]``:

* an entry without ``DefinitionId`` is ignored, as QBO does since 2014;
* a ``DefinitionId`` the company does not define (or has switched off) is Fault 2010 with
  element ``CustomField.DefinitionId``;
* a value over 31 characters (QBO's limit for a custom field) is Fault 2050;
* stored entries carry ``DefinitionId``, the field's current ``Name``, ``Type: StringType`` and
  the ``StringValue``, and are returned so on reads, queries and CDC.
"""

from __future__ import annotations

import re
from typing import Any

from qbpa_assets.sandbox.faults import invalid_property, string_length
from qbpa_assets.sandbox.wire import JSON

VALUE_MAX = 31
_USE = re.compile(r"UseSalesCustom(\d)$")
_NAME = re.compile(r"SalesCustomName(\d)$")


def _leaves(node: Any) -> list[JSON]:
    if isinstance(node, list):
        return [leaf for item in node for leaf in _leaves(item)]
    if isinstance(node, dict):
        if isinstance(node.get("CustomField"), list):
            return _leaves(node["CustomField"])
        return [node]
    return []


def definitions(preferences: JSON) -> dict[str, str]:
    """The company's enabled custom fields: ``DefinitionId`` → name."""
    leaves = _leaves((preferences.get("SalesFormsPrefs") or {}).get("CustomField"))
    enabled = {
        m.group(1)
        for leaf in leaves
        if (m := _USE.search(str(leaf.get("Name", "")))) and leaf.get("BooleanValue") is True
    }
    found = {}
    for leaf in leaves:
        m = _NAME.search(str(leaf.get("Name", "")))
        if m and m.group(1) in enabled and str(leaf.get("StringValue") or "").strip():
            found[m.group(1)] = str(leaf["StringValue"])
    return found


def checked(fields: Any, defined: dict[str, str]) -> list[JSON]:
    """The ``CustomField`` list to store for the entries a write sent (or raise the Fault)."""
    if fields is None:
        return []
    if not isinstance(fields, list):
        raise invalid_property("CustomField must be a list", "CustomField")
    out: list[JSON] = []
    for entry in fields:
        if not isinstance(entry, dict) or entry.get("DefinitionId") in (None, ""):
            continue
        def_id = str(entry["DefinitionId"])
        if def_id not in defined:
            raise invalid_property(
                f"Property Name:CustomField.DefinitionId specified is unsupported or invalid: "
                f"DefinitionId={def_id} is not a custom field of this company "
                f"(defined: {', '.join(sorted(defined)) or 'none'})",
                "CustomField.DefinitionId",
            )
        stored: JSON = {"DefinitionId": def_id, "Name": defined[def_id], "Type": "StringType"}
        value = entry.get("StringValue")
        if value is not None:
            value = str(value)
            if len(value) > VALUE_MAX:
                raise string_length(
                    "CustomField.StringValue", 0, VALUE_MAX, len(value), long_form=True
                )
            stored["StringValue"] = value
        out = [f for f in out if f["DefinitionId"] != def_id] + [stored]
    return out
