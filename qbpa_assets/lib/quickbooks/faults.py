"""Error mapping: QuickBooks answers (JSON or XML Faults, a Fault inside a 200) to our errors.

python-quickbooks raises a 429 Fault as ``ValidationException`` and 5010/6000/6140 as plain
``QuickbooksException`` and cannot read XML Faults (throttling answers sometimes come as XML),
so the client maps responses itself, from the HTTP status and the Fault's ``code``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from qbpa_assets.lib.quickbooks.errors import QboError, QboFault

Parsed = tuple[str | None, list[dict[str, Any]]]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xml_fault(text: str) -> Parsed | None:
    """Parse QuickBooks' XML ``IntuitResponse``/``Fault`` body into (type, errors)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    fault = next((el for el in root.iter() if _local(el.tag) == "Fault"), None)
    if fault is None:
        return None
    errors = []
    for err in fault:
        if _local(err.tag) != "Error":
            continue
        fields = {_local(child.tag).lower(): (child.text or "") for child in err}
        errors.append(
            {
                "code": err.get("code"),
                "element": err.get("element"),
                "message": fields.get("message", ""),
                "detail": fields.get("detail", ""),
            }
        )
    return fault.get("type"), errors


def normalize_json_fault(fault: Any) -> Parsed:
    """Normalize ``Fault`` (and the lowercase ``fault`` of 401 answers) into (type, errors)."""
    if not isinstance(fault, dict):
        return None, [{"code": None, "message": str(fault)}]
    raw = fault.get("Error") or fault.get("error") or []
    if isinstance(raw, dict):
        raw = [raw]
    errors = [
        {
            "code": e.get("code"),
            "element": e.get("element"),
            "message": e.get("Message") or e.get("message") or "",
            "detail": e.get("Detail") or e.get("detail") or "",
        }
        for e in raw
        if isinstance(e, dict)
    ]
    return fault.get("type"), errors


def error_from_response(status: int, text: str, context: str) -> QboError:
    """The error for a non-200 answer: its Fault when it has one, else status and a snippet."""
    parsed: Parsed | None = None
    if text.lstrip().startswith("<"):
        parsed = parse_xml_fault(text)
    else:
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = None
        if isinstance(body, dict):
            fault = body.get("Fault") or body.get("fault")
            if fault is not None:
                parsed = normalize_json_fault(fault)
    if parsed and parsed[1]:
        return QboFault.from_errors(parsed[1], fault_type=parsed[0], status=status, context=context)
    snippet = " ".join(text.split())[:200]
    return QboError(
        f"{context}: HTTP {status} from QuickBooks" + (f": {snippet}" if snippet else ""),
        status=status,
    )


def _xml_error(raw: bytes, context: str) -> QboError:
    parsed = parse_xml_fault(raw.decode("utf-8", "replace"))
    if parsed and parsed[1]:
        return QboFault.from_errors(parsed[1], fault_type=parsed[0], status=200, context=context)
    return QboError(f"{context}: QuickBooks answered XML, JSON expected", status=200)


def parse_ok(raw: bytes, context: str) -> tuple[dict[str, Any], QboError | None]:
    """Parse a 200 body; a ``Fault`` inside a 200 is still an error."""
    if raw[:64].lstrip().startswith(b"<"):
        return {}, _xml_error(raw, context)
    try:
        data = json.loads(raw)
    except ValueError:
        return {}, QboError(f"{context}: QuickBooks answered invalid JSON", status=200)
    if not isinstance(data, dict):
        return {}, QboError(f"{context}: unexpected QuickBooks answer", status=200)
    fault = data.get("Fault")
    if fault is not None:
        ftype, errors = normalize_json_fault(fault)
        return data, QboFault.from_errors(errors, fault_type=ftype, status=200, context=context)
    return data, None


def check_page(raw: bytes, context: str) -> QboError | None:
    r"""Check a 200 query page without parsing it into Python objects.

    A page is kept as bytes for DuckDB, which parses (and counts) it where it loads it. Here
    only what DuckDB would not report clearly is looked for: an XML answer, a body that is not
    a JSON object, a ``Fault`` instead of (or beside) the ``QueryResponse``. A key ``"Fault":``
    can also occur inside an entity (a custom field): only then is the page parsed whole.
    Inside a JSON string a quote is escaped (``\"``), so text cannot fake the key.
    """
    head = raw[:64].lstrip()
    if head.startswith(b"<"):
        return _xml_error(raw, context)
    if not head.startswith(b"{"):
        return QboError(f"{context}: QuickBooks answered invalid JSON", status=200)
    if b'"Fault":' in raw or b'"QueryResponse":' not in raw:
        data, err = parse_ok(raw, context)
        if err is not None:
            return err
        if "QueryResponse" not in data:
            return QboError(f"{context}: QuickBooks answered without a QueryResponse", status=200)
    return None
