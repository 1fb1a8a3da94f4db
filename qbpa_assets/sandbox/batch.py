"""Batch: ``POST batch`` with up to 30 ``BatchItemRequest`` items, each answered on its own.

An item is a ``Query`` or one entity with an ``operation`` (``create`` by default, ``update``,
``delete``, ``void``); a failing item gets its own ``Fault`` and does not stop the others. More
than 30 items is Fault 2050 for the whole request. ``?requestid=`` (≤ 36 characters) replays
the first successful answer of the whole batch.
"""

from __future__ import annotations

import json
from typing import Any

from qbpa_assets.lib.quickbooks.limits import BATCH_MAX_OPERATIONS, BATCH_REQUEST_ID_MAX
from qbpa_assets.sandbox.faults import BATCH_TOO_LARGE, Fault, invalid_property, required
from qbpa_assets.sandbox.store import CANONICAL
from qbpa_assets.sandbox.wire import Response, json_response

ITEM_KEYS = ("bId", "operation", "optionsData")


class BatchApi:
    """The batch endpoint."""

    def api_batch(self, request: Any) -> Response:
        """``POST batch``."""
        return self._with_requestid(
            request.params, BATCH_REQUEST_ID_MAX, lambda: self._batch(request.body)
        )

    def _batch(self, body: bytes) -> Response:
        try:
            items = json.loads(body or b"{}")["BatchItemRequest"]
            if not isinstance(items, list):
                raise TypeError
        except (ValueError, KeyError, TypeError) as exc:
            raise required("BatchItemRequest") from exc
        if len(items) > BATCH_MAX_OPERATIONS:
            raise Fault.of(
                BATCH_TOO_LARGE,
                f"The batch request contains {len(items)} items; "
                f"the maximum is {BATCH_MAX_OPERATIONS}.",
                "BatchItemRequest",
            )
        responses = []
        for item in items:
            bid = str(item.get("bId", ""))
            try:
                if "Query" in item:
                    responses.append({"bId": bid, "QueryResponse": self._query(item["Query"])})
                    continue
                operation = item.get("operation", "create")
                names = [k for k in item if k not in ITEM_KEYS]
                if len(names) != 1 or CANONICAL.get(names[0].lower()) is None:
                    raise invalid_property(f"Unsupported batch item: {names}")
                entity = CANONICAL[names[0].lower()]
                op = None if operation == "create" else operation
                with self._lock:
                    out_entity, obj = self._write(entity, op, item[names[0]], "")
                responses.append({"bId": bid, out_entity: obj})
            except Fault as fault:
                responses.append({"bId": bid, "Fault": fault.body()})
        return json_response(200, {"BatchItemResponse": responses, "time": self._time_field()})
