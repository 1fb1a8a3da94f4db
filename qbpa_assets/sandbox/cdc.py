"""Change data capture: ``GET cdc?entities=A,B&changedSince=<date-time>``.

Returns, per entity asked, the objects whose ``MetaData.LastUpdatedTime`` is at or after
``changedSince`` — live ones and tombstones (``"status": "Deleted"``) of deleted ones — oldest
first, at most 1000 objects in all. ``changedSince`` may reach back 30 days at most.
"""

from __future__ import annotations

from typing import Any

from qbpa_assets.lib.quickbooks.limits import CDC_MAX_DAYS, CDC_MAX_OBJECTS
from qbpa_assets.sandbox.faults import invalid_property, required
from qbpa_assets.sandbox.query import instant
from qbpa_assets.sandbox.store import CANONICAL
from qbpa_assets.sandbox.wire import Response, json_response


class CdcApi:
    """The CDC endpoint."""

    def api_cdc(self, request: Any) -> Response:
        """``GET cdc``."""
        params = request.params
        names = [n.strip() for n in params.get("entities", "").split(",") if n.strip()]
        since_text = params.get("changedSince", "")
        if not names:
            raise required("entities")
        if not since_text:
            raise required("changedSince")
        since = instant(since_text)
        if since != since:  # NaN: not a date-time
            raise invalid_property(f"Invalid changedSince value: {since_text}", "changedSince")
        if since < self._ts() - CDC_MAX_DAYS * 86400:
            raise invalid_property(
                f"changedSince cannot be more than {CDC_MAX_DAYS} days in the past", "changedSince"
            )
        budget = CDC_MAX_OBJECTS
        groups = []
        with self._lock:
            for name in names:
                entity = CANONICAL.get(name.lower())
                if entity is None:
                    raise invalid_property(f"Unsupported entity for CDC: {name}", "entities")
                changed = [
                    obj
                    for table in (self._tables[entity], self._tombstones[entity])
                    for obj in table.values()
                    if instant(obj.get("MetaData", {}).get("LastUpdatedTime", "")) >= since
                ]
                changed.sort(key=lambda o: instant(o["MetaData"]["LastUpdatedTime"]))
                changed = changed[: max(0, budget)]
                budget -= len(changed)
                if changed:
                    groups.append(
                        {
                            entity: changed,
                            "startPosition": 1,
                            "maxResults": len(changed),
                            "totalCount": len(changed),
                        }
                    )
                else:
                    groups.append({})
        return json_response(
            200, {"CDCResponse": [{"QueryResponse": groups}], "time": self._time_field()}
        )
