"""Reads: ``GET {entity}/{id}``, the query endpoint, Preferences and CompanyInfo.

``/query`` takes the query as the ``query`` parameter (GET) or as the body (POST,
``application/text``). List entities (Customer, Item, Vendor, Employee, Class, Term, Account)
hide inactive rows unless the query filters ``Active``. Query results are cached per query and
data version until unused for two minutes, and each object's JSON is cached, so that paging a
big company is fast; a write invalidates both.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Any

from qbpa_assets.sandbox.faults import OBJECT_NOT_FOUND, Fault, not_found
from qbpa_assets.sandbox.query import LIST_ENTITIES, evaluate, parse_query, project
from qbpa_assets.sandbox.query.parser import validation_error
from qbpa_assets.sandbox.store import CANONICAL, ENTITIES
from qbpa_assets.sandbox.wire import JSON, Response, dumps, json_response

QUERY_CACHE_SECONDS = 120.0
QUERY_CACHE_ENTRIES = 8


class ReadApi:
    """Read endpoints over the store."""

    realm_id: str

    def _init_reads(self) -> None:
        self._query_cache: collections.OrderedDict[Any, tuple[int, float, list[JSON]]] = (
            collections.OrderedDict()
        )
        # Id -> (object, its JSON): pages are joined from cached bytes; an object replaced by
        # a write no longer matches by identity, so the cache never serves stale JSON.
        self._json_cache: dict[str, dict[str, tuple[JSON, bytes]]] = {n: {} for n in ENTITIES}

    def _ok(self, entity: str, obj: JSON) -> Response:
        return json_response(200, {entity: obj, "time": self._time_field()})

    # ------------------------------------------------------------------ endpoints

    def api_read(self, request: Any) -> Response:
        """``GET {entity}/{id}``."""
        entity, entity_id = request.entity, request.entity_id
        with self._lock:
            obj = self._tables[entity].get(entity_id)
        if obj is None:
            raise not_found(entity, entity_id)
        return self._ok(entity, obj)

    def api_read_preferences(self, request: Any) -> Response:
        """``GET preferences``."""
        return self._ok("Preferences", self._tables["Preferences"]["1"])

    def api_company_info(self, request: Any) -> Response:
        """``GET companyinfo/{realm}``."""
        if request.entity_id != self.realm_id:
            raise Fault.of(OBJECT_NOT_FOUND, f"Object Not Found : {request.entity_id}")
        return self._ok("CompanyInfo", self._tables["CompanyInfo"]["1"])

    def api_query(self, request: Any) -> Response:
        """``GET|POST query``: one page, serialized from per-object cached JSON."""
        text = request.params.get("query") or request.body.decode("utf-8", "replace")
        result = self._query(text)
        entity = next((k for k in result if k in CANONICAL.values()), None)
        time_field = dumps(self._time_field())
        if entity is None or any(obj.get("sparse") is True for obj in result[entity][:1]):
            return json_response(200, {"QueryResponse": result, "time": self._time_field()})
        cache = self._json_cache[entity]
        parts = []
        for obj in result[entity]:
            hit = cache.get(obj["Id"])
            if hit is None or hit[0] is not obj:
                hit = (obj, dumps(obj))
                cache[obj["Id"]] = hit
            parts.append(hit[1])
        body = b"".join(
            (
                b'{"QueryResponse":{"',
                entity.encode(),
                b'":[',
                b",".join(parts),
                b'],"startPosition":%d,"maxResults":%d},"time":'
                % (result["startPosition"], result["maxResults"]),
                time_field,
                b"}",
            )
        )
        return Response(200, body)

    # ------------------------------------------------------------------ evaluation

    def _query(self, text: str) -> JSON:
        """Run a query; return the ``QueryResponse`` object (also used inside batch)."""
        query = parse_query(text)
        entity = CANONICAL.get(query.entity.lower())
        if entity is None:
            raise validation_error(f"Unknown entity {query.entity}")
        hide = entity in LIST_ENTITIES and not query.mentions_active
        key = (query.result_key, hide)
        rows = self._rows(
            entity,
            key,
            lambda: evaluate(query, self._tables[entity].values(), hide_inactive=hide),
        )
        if query.count:
            return {"totalCount": len(rows)}
        start = query.start_position
        page = rows[start - 1 : start - 1 + query.max_results]
        if not page:
            return {}
        if query.fields is not None:
            page = [project(obj, query.fields) for obj in page]
        return {entity: page, "startPosition": start, "maxResults": len(page)}

    def _rows(self, entity: str, query_key: Any, compute: Callable[[], list[JSON]]) -> list[JSON]:
        with self._lock:
            version = self._versions[entity]
            hit = self._query_cache.get(query_key)
            now = time.monotonic()
            if hit is not None and hit[0] == version and now - hit[1] < QUERY_CACHE_SECONDS:
                # Two minutes since the last use, not since the evaluation: paging a big
                # result (1.5M invoices: ~1,500 pages, minutes) must not re-sort it midway.
                self._query_cache[query_key] = (version, now, hit[2])
                self._query_cache.move_to_end(query_key)
                return hit[2]
            rows = compute()
            self._query_cache[query_key] = (version, now, rows)
            while len(self._query_cache) > QUERY_CACHE_ENTRIES:
                self._query_cache.popitem(last=False)
            return rows
