"""Routing as a table: method + path pattern → the handler of that part of the API.

Each request is, in order: a test control (``/_emulator/…``, ``controls.py``); or it is logged,
then meets an injected fault or a throttle window (``limits.py``); then an API request
(``/v3/company/{realm}/…``) is checked for a valid bearer token (401) and its realm (403),
counted against QBO's limits, delayed by the latency and routed through ``API_ROUTES``; any other
path goes through ``OAUTH_ROUTES``. Handlers take a :class:`Request` and return a
:class:`~qbpa_assets.sandbox.wire.Response`; a raised ``Fault`` becomes QBO's Fault body.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from qbpa_assets.sandbox import faults
from qbpa_assets.sandbox.controls import ADMIN_PREFIX
from qbpa_assets.sandbox.faults import APPLICATION_AUTHORIZATION_FAILED, Fault
from qbpa_assets.sandbox.limits import FaultRule
from qbpa_assets.sandbox.oauth import (
    AUTHORIZE_PATH,
    DISCOVERY_PATH,
    JWKS_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
)
from qbpa_assets.sandbox.query import QueryError, parse_query
from qbpa_assets.sandbox.store import CANONICAL
from qbpa_assets.sandbox.wire import JSON, NOT_FOUND_HTML, Response

logger = logging.getLogger(__name__)

ANY = ("GET", "POST")


@dataclass(frozen=True)
class Route:
    """``methods`` + ``pattern`` → ``handler`` (the name of an :class:`Emulator` method).

    API patterns are relative to ``/v3/company/{realm}/``: a literal first segment (matched
    case-insensitively, like QBO), ``{entity}`` (a known entity name) and ``{id}``.
    """

    methods: tuple[str, ...]
    pattern: str
    handler: str

    @functools.cached_property
    def parts(self) -> tuple[str, ...]:
        """The pattern's segments."""
        return tuple(self.pattern.strip("/").split("/"))

    def match(self, method: str, segments: list[str]) -> dict[str, str] | None:
        """The pattern's values for a request, or None when it does not match."""
        parts = self.parts
        if method not in self.methods or len(parts) != len(segments):
            return None
        values: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part == "{entity}":
                entity = CANONICAL.get(segment.lower())
                if entity is None:
                    return None
                values["entity"] = entity
            elif part == "{id}":
                values["id"] = segment
            elif part != segment.lower():
                return None
        return values


API_ROUTES: tuple[Route, ...] = (
    Route(ANY, "query", "api_query"),  # reads.py
    Route(("POST",), "batch", "api_batch"),  # batch.py
    Route(("GET",), "cdc", "api_cdc"),  # cdc.py
    Route(("GET",), "preferences", "api_read_preferences"),  # reads.py
    Route(("POST",), "preferences", "api_update_preferences"),  # writes.py
    Route(("GET",), "companyinfo/{id}", "api_company_info"),  # reads.py
    Route(("GET",), "{entity}/{id}", "api_read"),  # reads.py
    Route(("POST",), "{entity}", "api_write"),  # writes.py
)

OAUTH_ROUTES: tuple[Route, ...] = (  # oauth.py
    Route(("GET",), DISCOVERY_PATH, "oauth_discovery"),
    Route(ANY, JWKS_PATH, "oauth_jwks"),
    Route(("GET",), AUTHORIZE_PATH, "oauth_authorize"),
    Route(("POST",), TOKEN_PATH, "oauth_token"),
    Route(("POST",), REVOKE_PATH, "oauth_revoke"),
    Route(ANY, USERINFO_PATH, "oauth_userinfo"),
)


@dataclass
class Request:
    """One request as the handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    body: bytes
    headers: Any
    entity: str = ""
    entity_id: str = ""
    log: JSON = field(default_factory=dict)


class Router:
    """Serves one request: controls, log, faults, limits, auth, then the routing tables."""

    def _handle(self, handler: Any, method: str) -> None:
        """Serve one request (called from a server thread)."""
        parts = urlsplit(handler.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = Request(method, parts.path, params, body, handler.headers)
        if request.path.startswith(ADMIN_PREFIX):
            handler.respond(self.admin(request.path[len(ADMIN_PREFIX) :], body))
            return
        entry = self._log_entry(request)
        response: Response | None = None
        counted = False
        try:
            is_api = request.path.startswith("/v3/")
            rule = self._faults.take(request.path, is_api)
            if rule is not None and rule.kind == "drop":
                entry["status"] = 0
                handler.drop()
                return
            if rule is not None:
                response = self._fault_response(rule)
            elif is_api and (left := self._throttle.window_left(self._ts())) is not None:
                window = self._throttle.window
                retry = math.ceil(left) if window is not None and window.retry_after else None
                response = faults.throttled(self._time_field(), retry_after=retry)
            elif is_api:
                if not self._throttle.admit(entry["op"] == "batch"):
                    response = faults.throttled(self._time_field())
                else:
                    counted = True
                    # Latency is server time: the request counts as in flight meanwhile.
                    if self._latency:
                        time.sleep(self._latency)
                    response = self._api(request)
            else:
                response = self._oauth(request)
        except Exception:  # noqa: BLE001 - a server must answer, whatever broke
            logger.exception("emulator failed on %s %s", method, request.path)
            fault = faults.system_failure("emulator internal error")
            response = fault.response(self._time_field())
        finally:
            if counted:
                self._throttle.release()
            if response is not None:
                entry["status"] = response.status
            with self._lock:
                self._log.append(entry)
        handler.respond(response)

    def _api(self, request: Request) -> Response:
        segments = request.path.strip("/").split("/")
        if len(segments) < 4 or segments[:2] != ["v3", "company"]:
            return NOT_FOUND_HTML
        if self._bearer(request.headers) is None:
            header = request.headers.get("Authorization", "")
            return self._unauthorized(
                "Token expired: " + header[7:19] + "..." if header else "Token not found"
            )
        if segments[2] != self.realm_id:
            return Fault.of(APPLICATION_AUTHORIZATION_FAILED).response(self._time_field())
        rest = segments[3:]
        try:
            for route in API_ROUTES:
                values = route.match(request.method, rest)
                if values is not None:
                    request.entity = values.get("entity", "")
                    request.entity_id = values.get("id", "")
                    return getattr(self, route.handler)(request)
            if CANONICAL.get(rest[0].lower()) is None:
                return NOT_FOUND_HTML
            return Response(405, b"Method Not Allowed", "text/plain")
        except Fault as fault:
            return fault.response(self._time_field())

    def _oauth(self, request: Request) -> Response:
        for route in OAUTH_ROUTES:
            if request.method in route.methods and request.path == route.pattern:
                return getattr(self, route.handler)(request)
        return Response(404, b'{"error":"not_found"}')

    def _fault_response(self, rule: FaultRule) -> Response:
        if rule.status == 429:
            return faults.throttled(self._time_field(), xml=rule.xml, retry_after=rule.retry_after)
        if rule.status == 401:
            return self._unauthorized("Token expired: injected fault")
        if rule.status == 503:
            return faults.service_unavailable()
        fault = faults.system_failure("injected fault", rule.status)
        return fault.response(self._time_field())

    def _unauthorized(self, detail: str) -> Response:
        return faults.unauthorized(detail, int(self._ts() * 1000))

    def _log_entry(self, request: Request) -> JSON:
        """The request-log entry: what operation on which entity (before any check)."""
        entry: JSON = {
            "ts": time.time(),
            "method": request.method,
            "path": request.path,
            "op": "other",
            "entity": None,
            "status": 0,
            "requestid": request.params.get("requestid"),
            "batch_size": None,
        }
        path, params, body = request.path, request.params, request.body
        if path == DISCOVERY_PATH:
            entry["op"] = "discovery"
        elif path in (TOKEN_PATH, REVOKE_PATH):
            entry["op"] = "token"
        segments = path.strip("/").split("/")
        if len(segments) < 4 or segments[:2] != ["v3", "company"]:
            return entry
        head = segments[3].lower()
        if head == "query":
            entry["op"] = "query"
            text = params.get("query") or body.decode("utf-8", "replace")
            try:
                entry["entity"] = CANONICAL.get(parse_query(text).entity.lower())
            except QueryError:
                pass
        elif head == "batch":
            entry["op"] = "batch"
            try:
                entry["batch_size"] = len(json.loads(body or b"{}").get("BatchItemRequest", []))
            except (ValueError, AttributeError):
                pass
        elif head == "cdc":
            entry["op"] = "cdc"
            entry["entity"] = params.get("entities")
        elif head in CANONICAL:
            entry["entity"] = CANONICAL[head]
            if request.method == "GET":
                entry["op"] = "read"
            elif params.get("operation") in ("update", "delete", "void"):
                entry["op"] = "update"
            else:
                try:
                    has_id = "Id" in json.loads(body or b"{}")
                except (ValueError, TypeError):
                    has_id = False
                entry["op"] = "update" if has_id else "create"
        return entry
