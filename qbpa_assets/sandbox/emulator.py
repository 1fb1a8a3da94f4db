"""An offline QuickBooks Online API emulator that speaks the real wire protocol over HTTPS.

The emulator serves, on ``127.0.0.1``:

* Intuit's OAuth 2.0 endpoints: an OpenID discovery document, the authorization endpoint
  (immediate consent), the token endpoint (rotating refresh tokens) and revocation;
* the Accounting API v3 under ``/v3/company/{realm}/``: query, read, create/update/delete/void,
  batch, CDC, preferences and company info, with QBO's validations, Fault bodies and
  ``requestid`` idempotency;
* test controls under ``/_emulator/...`` (JSON POST): fault injection, latency, limits, clock,
  request log and data changes, mirrored by methods on :class:`Emulator`.

The real python-quickbooks and intuit-oauth code runs against it unchanged.
"""

from __future__ import annotations

import base64
import collections
import copy
import datetime as dt
import json
import logging
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from qbpa_assets.sandbox.company import (
    COMPANY_TZ,
    SALES_ACCOUNT,
    TAX_NON,
    USD,
    SampleCompany,
    generate_company,
)
from qbpa_assets.sandbox.query import (
    LIST_ENTITIES,
    QueryError,
    evaluate,
    instant,
    parse_query,
    project,
)
from qbpa_assets.sandbox.tls import generate_tls_files

logger = logging.getLogger(__name__)

JSON = dict[str, Any]

DISCOVERY_PATH = "/.well-known/openid_configuration"
AUTHORIZE_PATH = "/connect/oauth2"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/oauth2/v1/tokens/revoke"
USERINFO_PATH = "/v1/openid_connect/userinfo"
JWKS_PATH = "/op/v1/jwks"
ADMIN_PREFIX = "/_emulator/"

REFRESH_TOKEN_LIFETIME = 8_726_400  # 101 days, what Intuit announces in x_refresh_token_expires_in
TXN_ENTITIES = ("Invoice", "Estimate", "SalesReceipt")
WRITABLE = frozenset({"Invoice", "Estimate", "SalesReceipt", "Customer", "Item"})
ENTITIES = (
    "Customer",
    "Item",
    "Invoice",
    "Estimate",
    "SalesReceipt",
    "Term",
    "Account",
    "Employee",
    "Vendor",
    "Preferences",
    "CompanyInfo",
)
CANONICAL = {name.lower(): name for name in ENTITIES}
DOC_NUMBER_MAX = 21
LINE_KEY_ORDER = ("Id", "LineNum", "Description", "Amount", "DetailType")
REQUESTID_MAX = 50
BATCH_REQUESTID_MAX = 36
BATCH_MAX_ITEMS = 30
CDC_MAX_OBJECTS = 1000
CDC_MAX_DAYS = 30
RATE_PER_MINUTE = 500
CONCURRENT_MAX = 10
BATCH_PER_MINUTE = 40
QUERY_CACHE_SECONDS = 120.0
QUERY_CACHE_ENTRIES = 8
INACTIVE_DETAIL = (
    "Object Not Found : Something you're trying to use has been made inactive. "
    "Check the fields with accounts, customers, items, vendors or employees."
)


class Fault(Exception):
    """A QBO Fault to send back (HTTP ``status``, Fault ``type`` and one Error)."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str,
        *,
        element: str = "",
        status: int = 400,
        fault_type: str = "ValidationFault",
    ) -> None:
        super().__init__(f"{code} {message}")
        self.code, self.message, self.detail, self.element = code, message, detail, element
        self.status, self.fault_type = status, fault_type

    def body(self) -> JSON:
        """Return the ``Fault`` object of a response body."""
        error = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element:
            error["element"] = self.element
        return {"Error": [error], "type": self.fault_type}


def _required(name: str) -> Fault:
    return Fault(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {name} is missing in the request",
        element=name,
    )


def _invalid_ref(kind: str, value: Any, element: str) -> Fault:
    return Fault(
        "610",
        "Invalid Reference Id",
        f"Invalid Reference Id : {kind} assigned to this transaction has been deleted or "
        f"does not exist. Id={value}",
        element=element,
    )


def _inactive_ref(element: str) -> Fault:
    return Fault("610", "Object Not Found", INACTIVE_DETAIL, element=element)


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json;charset=UTF-8"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _FaultRule:
    status: int
    count: int
    path_contains: str | None
    xml: bool
    kind: str | None


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _num(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def client_env(info: dict[str, str]) -> dict[str, str]:
    """The ``QBO_*`` variables a client needs, from :meth:`Emulator.connection_info`.

    Also what a process reading the JSON line of ``qbpa sandbox serve`` uses.
    """
    return {
        "QBO_CLIENT_ID": info["client_id"],
        "QBO_CLIENT_SECRET": info["client_secret"],
        "QBO_REALM_ID": info["realm_id"],
        "QBO_REFRESH_TOKEN": info["refresh_token"],
        "QBO_ENVIRONMENT": info["discovery_url"],
        "QBO_API_BASE_URL": info["base_url"],
        "QBO_CA_BUNDLE": info["ca_file"],
    }


class Emulator:
    """The QuickBooks Online emulator; a context manager that serves in a background thread.

    Args:
        company: The data to serve (ownership passes to the emulator; objects are replaced,
            never mutated). Default: ``generate_company()``.
        port: TCP port; 0 picks a free one.
        workdir: Folder for the CA and certificates; default a temporary folder.
        refresh_grace_seconds: How long a refresh token stays valid after it was rotated.
        access_token_ttl: Access token lifetime in seconds.
        enforce_limits: Apply QBO's throttles (500 req/min, 10 concurrent, 40 batch/min).
        host: Address to listen on.
        realm_id: Company id; default a fixed sandbox-looking id.
    """

    def __init__(
        self,
        company: SampleCompany | None = None,
        port: int = 0,
        workdir: Path | str | None = None,
        refresh_grace_seconds: float = 0.0,
        access_token_ttl: float = 3600,
        enforce_limits: bool = False,
        host: str = "127.0.0.1",
        realm_id: str = "9341453050981187",
    ) -> None:
        self.company = company if company is not None else generate_company()
        self.host = host
        self._port = port
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp("qbo-emu"))
        self.refresh_grace_seconds = float(refresh_grace_seconds)
        self.access_token_ttl = float(access_token_ttl)
        self.realm_id = realm_id
        self.client_id = "ABemu" + secrets.token_hex(20)
        self.client_secret = secrets.token_urlsafe(30)
        self._lock = threading.RLock()
        self._clock: dt.datetime | None = None
        # --- auth state
        self._access: dict[str, float] = {}  # token -> expiry (POSIX)
        self._refresh: dict[str, float] = {}  # token -> expiry (POSIX)
        self._codes: dict[str, tuple[str, float]] = {}  # code -> (redirect_uri, expiry)
        self._deny_consent = False
        # --- data
        self._tables: dict[str, dict[str, JSON]] = {name: {} for name in ENTITIES}
        self._tombstones: dict[str, dict[str, JSON]] = {name: {} for name in ENTITIES}
        self._versions: dict[str, int] = collections.defaultdict(int)
        self._doc_numbers: dict[str, dict[str, str]] = {name: {} for name in TXN_ENTITIES}
        self._next_id: dict[str, int] = {}
        self._query_cache: collections.OrderedDict[Any, tuple[int, float, list[JSON]]] = (
            collections.OrderedDict()
        )
        self._requestids: dict[str, _Response] = {}
        # Id -> (object, its JSON): pages are joined from cached bytes; an object replaced by
        # a write no longer matches by identity, so the cache never serves stale JSON.
        self._json_cache: dict[str, dict[str, tuple[JSON, bytes]]] = {n: {} for n in ENTITIES}
        self._load(self.company)
        # --- controls
        self._faults: list[_FaultRule] = []
        self._latency = 0.0
        self.enforce_limits = enforce_limits
        self._recent: collections.deque[float] = collections.deque()
        self._recent_batches: collections.deque[float] = collections.deque()
        self._in_flight = 0
        self._log: list[JSON] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.ca_file = ""
        self.refresh_token = self.issue_refresh_token()

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Emulator:
        """Generate the certificates, bind the port and serve in a daemon thread."""
        tls = generate_tls_files(self.workdir, (self.host,))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert_file, tls.key_file)
        self.ca_file = str(tls.ca_file)
        self._server = _Server((self.host, self._port), _Handler, context, self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="qbo-emulator", daemon=True
        )
        self._thread.start()
        logger.info("QBO emulator listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and remove a temporary workdir."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return self._port

    @property
    def root_url(self) -> str:
        """``https://host:port`` of the server."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"https://{host}:{self._port}"

    @property
    def base_url(self) -> str:
        """The v3 API base URL (what ``QBO_API_BASE_URL`` takes)."""
        return f"{self.root_url}/v3"

    @property
    def discovery_url(self) -> str:
        """The OpenID discovery document URL (what ``QBO_ENVIRONMENT`` takes)."""
        return self.root_url + DISCOVERY_PATH

    @property
    def admin_url(self) -> str:
        """The base URL of the ``/_emulator/`` controls."""
        return self.root_url + ADMIN_PREFIX.rstrip("/")

    def env(self) -> dict[str, str]:
        """Return the ``QBO_*`` environment for a client (with a fresh refresh token)."""
        return client_env({**self.connection_info(), "refresh_token": self.issue_refresh_token()})

    def connection_info(self) -> dict[str, str]:
        """Return what ``qbpa sandbox serve`` prints: URLs, CA file and credentials."""
        return {
            "base_url": self.base_url,
            "discovery_url": self.discovery_url,
            "ca_file": self.ca_file,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "realm_id": self.realm_id,
            "refresh_token": self.refresh_token,
            "admin_url": self.admin_url,
        }

    # ------------------------------------------------------------------ clock

    @property
    def now(self) -> dt.datetime:
        """The emulator's current time (aware, UTC); see :meth:`set_clock`."""
        return self._clock or dt.datetime.now(dt.UTC)

    def set_clock(self, when: dt.datetime | None) -> None:
        """Freeze the clock used for timestamps and token expiry (None: real time)."""
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        self._clock = when

    def _ts(self) -> float:
        return self.now.timestamp()

    def _qbo_now(self) -> str:
        return self.now.astimezone(COMPANY_TZ).isoformat(timespec="seconds")

    def _time_field(self) -> str:
        return self.now.astimezone(COMPANY_TZ).isoformat(timespec="milliseconds")

    # ------------------------------------------------------------------ test controls

    def issue_refresh_token(self) -> str:
        """Mint another valid refresh token for the company."""
        token = "AB11" + secrets.token_urlsafe(36)
        with self._lock:
            self._refresh[token] = self._ts() + REFRESH_TOKEN_LIFETIME
        return token

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far answer 401."""
        with self._lock:
            for token in self._access:
                self._access[token] = 0.0

    def deny_consent(self, deny: bool = True) -> None:
        """Make the authorization endpoint redirect with ``error=access_denied``."""
        self._deny_consent = deny

    def inject_fault(
        self,
        status: int = 429,
        count: int = 1,
        path_contains: str | None = None,
        xml: bool = False,
        kind: str | None = None,
    ) -> None:
        """Fail the next ``count`` matching requests.

        Args:
            status: HTTP status: 429 (Fault 3001), 500 (Fault 10000), 503, 401 or any other.
            count: How many requests fail.
            path_contains: Only requests whose path contains this; default any ``/v3`` request.
            xml: Send the 429 Fault in QBO's XML form.
            kind: ``"drop"`` closes the connection without any response.
        """
        with self._lock:
            self._faults.append(_FaultRule(int(status), int(count), path_contains, xml, kind))

    def clear_faults(self) -> None:
        """Remove pending injected faults and the latency."""
        with self._lock:
            self._faults.clear()
            self._latency = 0.0

    def set_latency(self, seconds: float) -> None:
        """Delay every API response by ``seconds``."""
        self._latency = float(seconds)

    def set_limits(self, enforce: bool = True) -> None:
        """Turn QBO's throttling on or off."""
        with self._lock:
            self.enforce_limits = enforce
            self._recent.clear()
            self._recent_batches.clear()

    @property
    def request_log(self) -> list[JSON]:
        """Logged requests (copies), oldest first."""
        with self._lock:
            return [dict(entry) for entry in self._log]

    def reset_request_log(self) -> None:
        """Forget logged requests."""
        with self._lock:
            self._log.clear()

    def entities(self, name: str) -> list[JSON]:
        """Return copies of the stored objects of an entity, in Id order."""
        entity = self._entity(name)
        with self._lock:
            return copy.deepcopy(list(self._tables[entity].values()))

    def tombstones(self, name: str) -> list[JSON]:
        """Return the CDC tombstones of deleted objects of an entity."""
        entity = self._entity(name)
        with self._lock:
            return copy.deepcopy(list(self._tombstones[entity].values()))

    def set_preference(self, name: str, value: Any) -> None:
        """Set a company preference, e.g. ``set_preference("CustomTxnNumbers", False)``."""
        with self._lock:
            prefs = copy.deepcopy(self._tables["Preferences"]["1"])
            section = next(
                (s for s in prefs.values() if isinstance(s, dict) and name in s),
                prefs.setdefault("SalesFormsPrefs", {}),
            )
            section[name] = value
            self._store("Preferences", self._touch(prefs))

    def update_entity(self, name: str, entity_id: str, changes: JSON) -> JSON:
        """Apply a sparse change as if a QBO user edited the object; return the new object."""
        entity = self._entity(name)
        with self._lock:
            current = self._tables[entity].get(str(entity_id))
            if current is None:
                raise KeyError(f"{entity} {entity_id} not found")
            new = copy.deepcopy(current)
            new.update(copy.deepcopy(changes))
            new["SyncToken"] = str(int(current.get("SyncToken", "0")) + 1)
            self._store(entity, self._touch(new))
            return copy.deepcopy(new)

    def add_entity(self, name: str, obj: JSON) -> JSON:
        """Store a new object as is (Id, SyncToken and MetaData filled in); return it."""
        entity = self._entity(name)
        with self._lock:
            new = copy.deepcopy(obj)
            new.setdefault("Id", self._new_id(entity))
            new.setdefault("SyncToken", "0")
            new.setdefault("domain", "QBO")
            new.setdefault("sparse", False)
            new.setdefault("MetaData", {"CreateTime": self._qbo_now()})
            self._store(entity, self._touch(new))
            return copy.deepcopy(new)

    def delete_entity(self, name: str, entity_id: str) -> None:
        """Delete an object, leaving a CDC tombstone."""
        entity = self._entity(name)
        with self._lock:
            if str(entity_id) not in self._tables[entity]:
                raise KeyError(f"{entity} {entity_id} not found")
            self._remove(entity, str(entity_id))

    # ------------------------------------------------------------------ data store

    def _entity(self, name: str) -> str:
        entity = CANONICAL.get(str(name).lower())
        if entity is None:
            raise KeyError(f"unknown entity {name!r}")
        return entity

    def _load(self, company: SampleCompany) -> None:
        tables = {
            "Customer": company.customers,
            "Item": company.items,
            "Invoice": company.invoices,
            "Term": company.terms,
            "Account": company.accounts,
            "Employee": company.employees,
            "Vendor": company.vendors,
        }
        for entity, rows in tables.items():
            self._tables[entity] = {row["Id"]: row for row in rows}
        for tomb in company.deleted_invoices:
            self._tombstones["Invoice"][tomb["Id"]] = tomb
        for inv in company.invoices:
            if inv.get("DocNumber"):
                self._doc_numbers["Invoice"][inv["DocNumber"]] = inv["Id"]
        self._tables["Preferences"] = {"1": company.preferences}
        self._tables["CompanyInfo"] = {
            "1": {
                "CompanyName": company.company_name,
                "LegalName": company.company_name + " LLC",
                "CompanyAddr": {
                    "Id": "1",
                    "Line1": "123 Sierra Way",
                    "City": "San Pablo",
                    "CountrySubDivisionCode": "CA",
                    "PostalCode": "87999",
                },
                "Country": "US",
                "Email": {"Address": "noreply@example.com"},
                "SupportedLanguages": "en",
                "FiscalYearStartMonth": "January",
                "NameValue": [{"Name": "QBOIndustryType", "Value": "Wholesale Distribution"}],
                "domain": "QBO",
                "sparse": False,
                "Id": "1",
                "SyncToken": "0",
                "MetaData": {"CreateTime": "2020-01-01T09:00:00-08:00"},
            }
        }
        txn_ids = [
            int(i)
            for entity in TXN_ENTITIES
            for i in (*self._tables[entity], *self._tombstones[entity])
            if str(i).isdigit()
        ]
        self._next_id["txn"] = max(txn_ids, default=100) + 1
        for entity in ENTITIES:
            if entity not in TXN_ENTITIES:
                ids = [int(i) for i in self._tables[entity] if str(i).isdigit()]
                self._next_id[entity] = max(ids, default=0) + 1

    def _new_id(self, entity: str) -> str:
        key = "txn" if entity in TXN_ENTITIES else entity
        value = self._next_id.get(key, 1)
        self._next_id[key] = value + 1
        return str(value)

    def _touch(self, obj: JSON) -> JSON:
        meta = dict(obj.get("MetaData") or {})
        now = self._qbo_now()
        meta.setdefault("CreateTime", now)
        meta["LastUpdatedTime"] = now
        obj["MetaData"] = meta
        return obj

    def _store(self, entity: str, obj: JSON) -> None:
        old = self._tables[entity].get(obj["Id"])
        if entity in self._doc_numbers:
            index = self._doc_numbers[entity]
            if (
                old is not None
                and old.get("DocNumber")
                and index.get(old["DocNumber"]) == old["Id"]
            ):
                del index[old["DocNumber"]]
            if obj.get("DocNumber"):
                index[obj["DocNumber"]] = obj["Id"]
        self._tables[entity][obj["Id"]] = obj
        self._versions[entity] += 1

    def _remove(self, entity: str, entity_id: str) -> JSON:
        old = self._tables[entity].pop(entity_id)
        index = self._doc_numbers.get(entity)
        if index is not None and old.get("DocNumber") and index.get(old["DocNumber"]) == entity_id:
            del index[old["DocNumber"]]
        tomb = {
            "Id": entity_id,
            "status": "Deleted",
            "domain": "QBO",
            "MetaData": {"LastUpdatedTime": self._qbo_now()},
        }
        self._tombstones[entity][entity_id] = tomb
        self._versions[entity] += 1
        return tomb

    # ------------------------------------------------------------------ HTTP dispatch

    def _handle(self, handler: _Handler, method: str) -> None:
        """Serve one request (called from a server thread)."""
        parts = urlsplit(handler.path)
        path = parts.path
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if path.startswith(ADMIN_PREFIX):
            handler.respond(self._admin(path[len(ADMIN_PREFIX) :], body))
            return
        entry: JSON = {
            "ts": time.time(),
            "method": method,
            "path": path,
            "op": "other",
            "entity": None,
            "status": 0,
            "requestid": params.get("requestid"),
            "batch_size": None,
        }
        response: _Response | None = None
        counted = False
        try:
            self._classify(entry, method, path, params, body)
            is_api = path.startswith("/v3/")
            rule = self._take_fault(path, is_api)
            if rule is not None and rule.kind == "drop":
                entry["status"] = 0
                handler.drop()
                return
            if rule is not None:
                response = self._fault_response(rule)
            elif is_api:
                response = self._limits(entry)
                if response is None:
                    counted = True
                    # Latency is server time: the request counts as in flight meanwhile.
                    if self._latency:
                        time.sleep(self._latency)
                    response = self._api(handler, method, path, params, body, entry)
            else:
                response = self._oauth(handler, method, path, params, body)
        except Exception:  # noqa: BLE001 - a server must answer, whatever broke
            logger.exception("emulator failed on %s %s", method, path)
            response = self._json(
                500,
                {
                    "Fault": Fault(
                        "10000",
                        "An application error has occurred while processing your request",
                        "System Failure Error: emulator internal error",
                        status=500,
                        fault_type="SystemFault",
                    ).body(),
                    "time": self._time_field(),
                },
            )
        finally:
            if counted:
                with self._lock:
                    self._in_flight -= 1
            if response is not None:
                entry["status"] = response.status
            with self._lock:
                self._log.append(entry)
        handler.respond(response)

    def _classify(self, entry: JSON, method: str, path: str, params: dict, body: bytes) -> None:
        if path == DISCOVERY_PATH:
            entry["op"] = "discovery"
        elif path in (TOKEN_PATH, REVOKE_PATH):
            entry["op"] = "token"
        segments = path.strip("/").split("/")
        if len(segments) < 4 or segments[:2] != ["v3", "company"]:
            return
        rest = segments[3:]
        head = rest[0].lower()
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
            if method == "GET":
                entry["op"] = "read"
            elif params.get("operation") in ("update", "delete", "void"):
                entry["op"] = "update"
            else:
                try:
                    has_id = "Id" in json.loads(body or b"{}")
                except (ValueError, TypeError):
                    has_id = False
                entry["op"] = "update" if has_id else "create"

    def _take_fault(self, path: str, is_api: bool) -> _FaultRule | None:
        with self._lock:
            for rule in self._faults:
                matches = rule.path_contains in path if rule.path_contains is not None else is_api
                if matches and rule.count > 0:
                    rule.count -= 1
                    if rule.count <= 0:
                        self._faults.remove(rule)
                    return rule
        return None

    def _fault_response(self, rule: _FaultRule) -> _Response:
        if rule.status == 429:
            return self._throttled(xml=rule.xml)
        if rule.status == 401:
            return self._unauthorized("Token expired: injected fault")
        if rule.status == 503:
            return _Response(
                503,
                b"<html><body><h1>503 Service Unavailable</h1></body></html>",
                "text/html",
            )
        fault = Fault(
            "10000",
            "An application error has occurred while processing your request",
            "System Failure Error: injected fault",
            status=rule.status,
            fault_type="SystemFault",
        )
        return self._json(rule.status, {"Fault": fault.body(), "time": self._time_field()})

    def _throttled(self, xml: bool = False) -> _Response:
        message = "message=ThrottleExceeded; errorCode=003001; statusCode=429"
        detail = "The request limit was reached."
        if xml:
            text = (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" '
                f'time="{self._time_field()}">'
                f'<Fault type="ThrottleExceeded"><Error code="3001"><Message>{message}</Message>'
                f"<Detail>{detail}</Detail></Error></Fault></IntuitResponse>"
            )
            return _Response(429, text.encode(), "application/xml")
        fault = Fault("3001", message, detail, status=429, fault_type="ThrottleExceeded")
        return self._json(429, {"Fault": fault.body(), "time": self._time_field()})

    def _limits(self, entry: JSON) -> _Response | None:
        """Apply throttles (when enforced) and count the request in flight."""
        with self._lock:
            if self.enforce_limits:
                now = time.monotonic()
                for window in (self._recent, self._recent_batches):
                    while window and window[0] <= now - 60:
                        window.popleft()
                if (
                    self._in_flight >= CONCURRENT_MAX
                    or len(self._recent) >= RATE_PER_MINUTE
                    or (entry["op"] == "batch" and len(self._recent_batches) >= BATCH_PER_MINUTE)
                ):
                    return self._throttled()
                self._recent.append(now)
                if entry["op"] == "batch":
                    self._recent_batches.append(now)
            self._in_flight += 1
        return None

    def _json(self, status: int, obj: Any, headers: tuple[tuple[str, str], ...] = ()) -> _Response:
        return _Response(status, _dumps(obj), headers=headers)

    def _unauthorized(self, detail: str) -> _Response:
        body = {
            "warnings": None,
            "intuitObject": None,
            "fault": {
                "error": [
                    {
                        "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                        "detail": detail,
                        "code": "3200",
                        "element": None,
                    }
                ],
                "type": "AUTHENTICATION",
            },
            "report": None,
            "queryResponse": None,
            "batchItemResponse": [],
            "attachableResponse": [],
            "syncErrorResponse": None,
            "requestId": None,
            "time": int(self._ts() * 1000),
            "status": None,
            "cdcresponse": [],
        }
        return self._json(401, body, (("WWW-Authenticate", 'Bearer realm="Intuit"'),))

    # ------------------------------------------------------------------ OAuth

    def _discovery(self) -> JSON:
        root = self.root_url
        return {
            "issuer": "https://oauth.platform.intuit.com/op/v1",
            "authorization_endpoint": root + AUTHORIZE_PATH,
            "token_endpoint": root + TOKEN_PATH,
            "userinfo_endpoint": root + USERINFO_PATH,
            "revocation_endpoint": root + REVOKE_PATH,
            "jwks_uri": root + JWKS_PATH,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        }

    def _oauth(
        self, handler: _Handler, method: str, path: str, params: dict, body: bytes
    ) -> _Response:
        if path == DISCOVERY_PATH and method == "GET":
            return self._json(200, self._discovery())
        if path == JWKS_PATH:
            return self._json(200, {"keys": []})
        if path == AUTHORIZE_PATH and method == "GET":
            return self._authorize(params)
        if path == TOKEN_PATH and method == "POST":
            return self._token(handler, body)
        if path == REVOKE_PATH and method == "POST":
            return self._revoke(handler, body)
        if path == USERINFO_PATH:
            if self._bearer(handler) is None:
                return self._unauthorized("Token invalid")
            return self._json(200, {"sub": "emulator-user", "email": "user@example.com"})
        return _Response(404, b'{"error":"not_found"}')

    def _authorize(self, params: dict) -> _Response:
        redirect = params.get("redirect_uri", "")
        if params.get("client_id") != self.client_id or not redirect:
            return _Response(400, b"invalid client_id or redirect_uri", "text/plain")
        state = params.get("state", "")
        if self._deny_consent:
            query = {"error": "access_denied", "state": state}
        elif params.get("response_type") != "code":
            query = {"error": "unsupported_response_type", "state": state}
        else:
            code = "AB11" + secrets.token_urlsafe(24)
            with self._lock:
                self._codes[code] = (redirect, self._ts() + 600)
            query = {"code": code, "state": state, "realmId": self.realm_id}
        sep = "&" if "?" in redirect else "?"
        return _Response(302, b"", "text/plain", (("Location", redirect + sep + urlencode(query)),))

    def _client_ok(self, handler: _Handler) -> bool:
        header = handler.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
        return secrets.compare_digest(client_id, self.client_id) and secrets.compare_digest(
            secret, self.client_secret
        )

    def _issue_tokens(self) -> JSON:
        access = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.." + secrets.token_urlsafe(48)
        refresh = "AB11" + secrets.token_urlsafe(36)
        now = self._ts()
        self._access[access] = now + self.access_token_ttl
        self._refresh[refresh] = now + REFRESH_TOKEN_LIFETIME
        return {
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": int(self.access_token_ttl),
            "x_refresh_token_expires_in": REFRESH_TOKEN_LIFETIME,
        }

    def _token(self, handler: _Handler, body: bytes) -> _Response:
        no_store = (("Cache-Control", "no-cache, no-store"), ("Pragma", "no-cache"))
        if not self._client_ok(handler):
            return self._json(401, {"error": "invalid_client"}, no_store)
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type")
        with self._lock:
            now = self._ts()
            if grant == "refresh_token":
                token = form.get("refresh_token", "")
                expiry = self._refresh.get(token)
                if expiry is None or expiry <= now:
                    return self._json(400, {"error": "invalid_grant"}, no_store)
                # Rotation: the presented token dies after the grace period.
                self._refresh[token] = min(expiry, now + self.refresh_grace_seconds)
                if self.refresh_grace_seconds <= 0:
                    del self._refresh[token]
                return self._json(200, self._issue_tokens(), no_store)
            if grant == "authorization_code":
                code = self._codes.pop(form.get("code", ""), None)
                if code is None or code[1] <= now or code[0] != form.get("redirect_uri"):
                    return self._json(400, {"error": "invalid_grant"}, no_store)
                return self._json(200, self._issue_tokens(), no_store)
        return self._json(400, {"error": "unsupported_grant_type"}, no_store)

    def _revoke(self, handler: _Handler, body: bytes) -> _Response:
        if not self._client_ok(handler):
            return self._json(401, {"error": "invalid_client"})
        try:
            token = json.loads(body or b"{}").get("token", "")
        except (ValueError, AttributeError):
            form = parse_qs(body.decode("utf-8", "replace"))
            token = (form.get("token") or [""])[-1]
        with self._lock:
            self._access.pop(token, None)
            self._refresh.pop(token, None)
        return _Response(200, b"")

    def _bearer(self, handler: _Handler) -> str | None:
        header = handler.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        token = header[7:].strip()
        with self._lock:
            expiry = self._access.get(token)
        if expiry is None or expiry <= self._ts():
            return None
        return token

    # ------------------------------------------------------------------ API

    def _api(
        self,
        handler: _Handler,
        method: str,
        path: str,
        params: dict,
        body: bytes,
        entry: JSON,
    ) -> _Response:
        segments = path.strip("/").split("/")
        if len(segments) < 4 or segments[:2] != ["v3", "company"]:
            return _Response(404, b"<html><body>404 Not Found</body></html>", "text/html")
        if self._bearer(handler) is None:
            header = handler.headers.get("Authorization", "")
            return self._unauthorized(
                "Token expired: " + header[7:19] + "..." if header else "Token not found"
            )
        if segments[2] != self.realm_id:
            fault = Fault(
                "3100",
                "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                "",
                status=403,
                fault_type="AUTHENTICATION",
            )
            return self._json(403, {"Fault": fault.body(), "time": self._time_field()})
        rest = segments[3:]
        head = rest[0].lower()
        try:
            if head == "query" and method in ("GET", "POST"):
                text = params.get("query") or body.decode("utf-8", "replace")
                return self._query_response(text)
            if head == "batch" and method == "POST":
                return self._with_requestid(params, BATCH_REQUESTID_MAX, lambda: self._batch(body))
            if head == "cdc" and method == "GET":
                return self._cdc(params)
            if head == "preferences" and len(rest) == 1:
                if method == "POST":
                    return self._with_requestid(
                        params, REQUESTID_MAX, lambda: self._update_preferences(body)
                    )
                return self._ok("Preferences", self._tables["Preferences"]["1"])
            if head == "companyinfo" and len(rest) == 2 and method == "GET":
                if rest[1] != self.realm_id:
                    raise Fault("610", "Object Not Found", f"Object Not Found : {rest[1]}")
                return self._ok("CompanyInfo", self._tables["CompanyInfo"]["1"])
            entity = CANONICAL.get(head)
            if entity is None:
                return _Response(404, b"<html><body>404 Not Found</body></html>", "text/html")
            if method == "GET" and len(rest) == 2:
                with self._lock:
                    obj = self._tables[entity].get(rest[1])
                if obj is None:
                    raise Fault(
                        "610",
                        "Object Not Found",
                        f"Object Not Found : Something you're trying to use has been made "
                        f"inactive or has been deleted. {entity} Id={rest[1]}",
                    )
                return self._ok(entity, obj)
            if method == "POST" and len(rest) == 1:
                try:
                    payload = json.loads(body or b"{}")
                except ValueError as exc:
                    raise Fault(
                        "2010", "Request has invalid or unsupported property", f"Bad JSON: {exc}"
                    ) from exc
                if not isinstance(payload, dict):
                    raise Fault("2010", "Request has invalid or unsupported property", "")
                operation = params.get("operation")
                include = params.get("include", "")
                return self._with_requestid(
                    params,
                    REQUESTID_MAX,
                    lambda: self._ok_write(*self._write(entity, operation, payload, include)),
                )
            return _Response(405, b"Method Not Allowed", "text/plain")
        except Fault as fault:
            return self._json(fault.status, {"Fault": fault.body(), "time": self._time_field()})
        except QueryError as err:
            fault = Fault(err.code, err.message, err.detail)
            return self._json(400, {"Fault": fault.body(), "time": self._time_field()})

    def _ok(self, entity: str, obj: JSON) -> _Response:
        return self._json(200, {entity: obj, "time": self._time_field()})

    def _ok_write(self, entity: str, obj: JSON) -> _Response:
        return self._ok(entity, obj)

    def _with_requestid(
        self, params: dict, max_len: int, action: Callable[[], _Response]
    ) -> _Response:
        requestid = params.get("requestid")
        if requestid is None:
            return action()
        if len(requestid) > max_len:
            raise Fault(
                "2050",
                "String length is either shorter or longer than supported by specification",
                f"String length specified does not match the supported length. Min:1 "
                f"Max:{max_len} supplied length:{len(requestid)}",
                element="requestid",
            )
        with self._lock:
            cached = self._requestids.get(requestid)
            if cached is not None:
                return cached
            response = action()
            # Only successes are remembered, so a retry after a failure really runs again.
            if response.status == 200:
                self._requestids[requestid] = response
            return response

    # ------------------------------------------------------------------ query

    def _rows(self, entity: str, query_key: Any, compute: Callable[[], list[JSON]]) -> list[JSON]:
        with self._lock:
            version = self._versions[entity]
            hit = self._query_cache.get(query_key)
            now = time.monotonic()
            if hit is not None and hit[0] == version and now - hit[1] < QUERY_CACHE_SECONDS:
                self._query_cache.move_to_end(query_key)
                return hit[2]
            rows = compute()
            self._query_cache[query_key] = (version, now, rows)
            while len(self._query_cache) > QUERY_CACHE_ENTRIES:
                self._query_cache.popitem(last=False)
            return rows

    def _query_response(self, text: str) -> _Response:
        """Answer a query over HTTP, serializing the page from per-object cached JSON."""
        result = self._query(text)
        entity = next((k for k in result if k in CANONICAL.values()), None)
        time_field = _dumps(self._time_field())
        if entity is None or any(obj.get("sparse") is True for obj in result[entity][:1]):
            return self._json(200, {"QueryResponse": result, "time": self._time_field()})
        cache = self._json_cache[entity]
        parts = []
        for obj in result[entity]:
            hit = cache.get(obj["Id"])
            if hit is None or hit[0] is not obj:
                hit = (obj, _dumps(obj))
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
        return _Response(200, body)

    def _query(self, text: str) -> JSON:
        query = parse_query(text)
        entity = CANONICAL.get(query.entity.lower())
        if entity is None:
            raise QueryError(
                "4001", "Invalid query", f"QueryValidationError: Unknown entity {query.entity}"
            )
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

    # ------------------------------------------------------------------ batch

    def _batch(self, body: bytes) -> _Response:
        try:
            request = json.loads(body or b"{}")
            items = request["BatchItemRequest"]
            if not isinstance(items, list):
                raise TypeError
        except (ValueError, KeyError, TypeError) as exc:
            raise _required("BatchItemRequest") from exc
        if len(items) > BATCH_MAX_ITEMS:
            raise Fault(
                "2050",
                "Batch request exceeds the maximum number of items",
                f"The batch request contains {len(items)} items; the maximum is {BATCH_MAX_ITEMS}.",
                element="BatchItemRequest",
            )
        responses = []
        for item in items:
            bid = str(item.get("bId", ""))
            try:
                if "Query" in item:
                    responses.append({"bId": bid, "QueryResponse": self._query(item["Query"])})
                    continue
                operation = item.get("operation", "create")
                names = [k for k in item if k not in ("bId", "operation", "optionsData")]
                if len(names) != 1 or CANONICAL.get(names[0].lower()) is None:
                    raise Fault(
                        "2010",
                        "Request has invalid or unsupported property",
                        f"Unsupported batch item: {names}",
                    )
                entity = CANONICAL[names[0].lower()]
                op = None if operation == "create" else operation
                with self._lock:
                    out_entity, obj = self._write(entity, op, item[names[0]], "")
                responses.append({"bId": bid, out_entity: obj})
            except Fault as fault:
                responses.append({"bId": bid, "Fault": fault.body()})
            except QueryError as err:
                responses.append(
                    {"bId": bid, "Fault": Fault(err.code, err.message, err.detail).body()}
                )
        return self._json(200, {"BatchItemResponse": responses, "time": self._time_field()})

    # ------------------------------------------------------------------ CDC

    def _cdc(self, params: dict) -> _Response:
        names = [n.strip() for n in params.get("entities", "").split(",") if n.strip()]
        since_text = params.get("changedSince", "")
        if not names:
            raise _required("entities")
        if not since_text:
            raise _required("changedSince")
        since = instant(since_text)
        if since != since:  # NaN: not a date-time
            raise Fault(
                "2010",
                "Request has invalid or unsupported property",
                f"Invalid changedSince value: {since_text}",
                element="changedSince",
            )
        if since < self._ts() - CDC_MAX_DAYS * 86400:
            raise Fault(
                "2010",
                "Request has invalid or unsupported property",
                f"changedSince cannot be more than {CDC_MAX_DAYS} days in the past",
                element="changedSince",
            )
        budget = CDC_MAX_OBJECTS
        groups = []
        with self._lock:
            for name in names:
                entity = CANONICAL.get(name.lower())
                if entity is None:
                    raise Fault(
                        "2010",
                        "Request has invalid or unsupported property",
                        f"Unsupported entity for CDC: {name}",
                        element="entities",
                    )
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
        return self._json(
            200, {"CDCResponse": [{"QueryResponse": groups}], "time": self._time_field()}
        )

    # ------------------------------------------------------------------ writes

    def _update_preferences(self, body: bytes) -> _Response:
        try:
            payload = json.loads(body or b"{}")
        except ValueError as exc:
            raise Fault("2010", "Request has invalid or unsupported property", str(exc)) from exc
        with self._lock:
            current = self._tables["Preferences"]["1"]
            if str(payload.get("SyncToken")) != current["SyncToken"]:
                raise self._stale()
            new = copy.deepcopy(current)
            for key, value in payload.items():
                if isinstance(value, dict) and isinstance(new.get(key), dict):
                    new[key].update(value)
                elif key not in ("Id", "SyncToken", "MetaData", "sparse", "domain"):
                    new[key] = value
            new["SyncToken"] = str(int(current["SyncToken"]) + 1)
            self._store("Preferences", self._touch(new))
            return self._ok("Preferences", new)

    def _stale(self) -> Fault:
        return Fault(
            "5010",
            "Stale Object Error",
            "Stale Object Error : You and root were working on this at the same time. root "
            "finished before you did, so your work was not saved.",
        )

    def _write(
        self, entity: str, operation: str | None, payload: JSON, include: str
    ) -> tuple[str, JSON]:
        """Create, update, delete or void an object; return (entity, response object)."""
        if entity not in WRITABLE:
            raise Fault(
                "500",
                "Unsupported Operation",
                f"Operation Create/Update is not supported for {entity} in this emulator",
                fault_type="ValidationFault",
            )
        payload = copy.deepcopy(payload)
        with self._lock:
            if operation in ("delete", "void"):
                return self._delete_or_void(entity, operation, payload)
            if operation not in (None, "", "create", "update"):
                raise Fault(
                    "2010",
                    "Request has invalid or unsupported property",
                    f"Unsupported operation {operation}",
                )
            current = None
            if "Id" in payload or operation == "update":
                if "Id" not in payload:
                    raise _required("Id")
                if "SyncToken" not in payload:
                    raise _required("SyncToken")
                current = self._tables[entity].get(str(payload["Id"]))
                if current is None:
                    raise Fault("610", "Object Not Found", INACTIVE_DETAIL, element="Id")
                if str(payload["SyncToken"]) != current.get("SyncToken"):
                    raise self._stale()
                if payload.get("sparse") in (True, "true"):
                    merged = copy.deepcopy(current)
                    merged.update(payload)
                    payload = merged
            if entity in TXN_ENTITIES:
                obj = self._prepare_txn(entity, payload, current, include)
            elif entity == "Customer":
                obj = self._prepare_customer(payload, current)
            else:
                obj = self._prepare_item(payload, current)
            obj["domain"] = "QBO"
            obj["sparse"] = False
            if current is None:
                obj["Id"] = self._new_id(entity)
                obj["SyncToken"] = "0"
                obj["MetaData"] = {}
            else:
                obj["Id"] = current["Id"]
                obj["SyncToken"] = str(int(current.get("SyncToken", "0")) + 1)
                obj["MetaData"] = dict(current.get("MetaData") or {})
            self._store(entity, self._touch(obj))
            return entity, obj

    def _delete_or_void(self, entity: str, operation: str, payload: JSON) -> tuple[str, JSON]:
        if entity not in TXN_ENTITIES or (operation == "void" and entity == "Estimate"):
            raise Fault(
                "500",
                "Unsupported Operation",
                f"Operation {operation} is not supported for {entity}",
            )
        for key in ("Id", "SyncToken"):
            if key not in payload:
                raise _required(key)
        current = self._tables[entity].get(str(payload["Id"]))
        if current is None:
            raise Fault("610", "Object Not Found", INACTIVE_DETAIL, element="Id")
        if str(payload["SyncToken"]) != current.get("SyncToken"):
            raise self._stale()
        if operation == "delete":
            self._remove(entity, current["Id"])
            return entity, {"status": "Deleted", "domain": "QBO", "Id": current["Id"]}
        obj = copy.deepcopy(current)

        def zero(lines: list[JSON]) -> None:
            for line in lines:
                if "Amount" in line:
                    line["Amount"] = 0.0
                detail = line.get("SalesItemLineDetail")
                if detail is not None:
                    detail["Qty"] = 0
                group = line.get("GroupLineDetail")
                if group is not None:
                    zero(group.get("Line", []))

        zero(obj.get("Line", []))
        obj.update(TotalAmt=0.0, PrivateNote="Voided")
        if "Balance" in obj:
            obj["Balance"] = 0.0
        obj["SyncToken"] = str(int(current["SyncToken"]) + 1)
        self._store(entity, self._touch(obj))
        return entity, obj

    def _ref(self, table: str, ref: Any, element: str, kind: str) -> JSON:
        value = ref.get("value") if isinstance(ref, dict) else None
        obj = self._tables[table].get(str(value)) if value is not None else None
        if obj is None:
            raise _invalid_ref(kind, value, element)
        if obj.get("Active") is False:
            raise _inactive_ref(element)
        return obj

    def _prepare_txn(self, entity: str, obj: JSON, current: JSON | None, include: str) -> JSON:
        if not obj.get("CustomerRef"):
            raise _required("CustomerRef")
        if not obj.get("Line"):
            raise _required("Line")
        customer = self._ref("Customer", obj["CustomerRef"], "CustomerRef", "Customer")
        obj["CustomerRef"] = {"value": customer["Id"], "name": customer["DisplayName"]}
        prefs = self._tables["Preferences"]["1"].get("SalesFormsPrefs", {})
        doc = obj.get("DocNumber")
        if doc is not None:
            doc = str(doc)
            if len(doc) > DOC_NUMBER_MAX:
                raise Fault(
                    "2050",
                    "String length is either shorter or longer than supported by specification",
                    f"String length specified does not match the supported length. Min:0 "
                    f"Max:{DOC_NUMBER_MAX} supplied length:{len(doc)}",
                    element="DocNumber",
                )
            owner = self._doc_numbers[entity].get(doc)
            duplicate_ok = "allowduplicatedocnum" in include.lower()
            if (
                prefs.get("CustomTxnNumbers", True)
                and owner is not None
                and (current is None or owner != current["Id"])
                and not duplicate_ok
            ):
                raise Fault(
                    "6140",
                    "Duplicate Document Number Error",
                    "Duplicate Document Number Error : You must specify a different number. "
                    f"This number has already been used. DocNumber={doc} is assigned to "
                    f"TxnType={entity} with TxnId={owner}",
                )
        elif not prefs.get("CustomTxnNumbers", True) or current is None:
            if not prefs.get("CustomTxnNumbers", True):
                doc = str(1000 + self._next_id.get("txn", 1))
                while doc in self._doc_numbers[entity]:
                    doc = str(int(doc) + 1)
        if doc is not None:
            obj["DocNumber"] = doc
        subtotal, discount = self._compute_lines(obj["Line"])
        total = round(subtotal - discount, 2)
        today = self.now.astimezone(COMPANY_TZ).date()
        obj.setdefault("TxnDate", today.isoformat())
        obj.setdefault("CurrencyRef", USD)
        obj.setdefault("LinkedTxn", [])
        obj["TxnTaxDetail"] = {"TotalTax": 0.0}
        obj["TotalAmt"] = total
        obj.setdefault("BillAddr", customer.get("BillAddr"))
        obj.setdefault("ShipAddr", customer.get("ShipAddr"))
        obj.setdefault("PrintStatus", "NotSet")
        obj.setdefault("EmailStatus", "NotSet")
        obj.setdefault("ApplyTaxAfterDiscount", False)
        if entity == "Invoice":
            term_id = (obj.get("SalesTermRef") or customer.get("SalesTermRef") or {}).get(
                "value", "3"
            )
            term = self._tables["Term"].get(str(term_id), {"DueDays": 30})
            if "DueDate" not in obj:
                try:
                    txn_date = dt.date.fromisoformat(str(obj["TxnDate"]))
                except ValueError as exc:
                    raise Fault(
                        "2010",
                        "Request has invalid or unsupported property",
                        "Bad TxnDate",
                        element="TxnDate",
                    ) from exc
                obj["DueDate"] = (txn_date + dt.timedelta(days=term.get("DueDays", 30))).isoformat()
            paid = sum(_num(x.get("Amount")) or 0.0 for x in obj.get("LinkedTxn", []))
            obj["Balance"] = round(max(0.0, total - paid), 2) if paid else total
            obj.setdefault("Deposit", 0)
        elif entity == "SalesReceipt":
            obj["Balance"] = 0.0
            obj.setdefault("DepositToAccountRef", {"value": "4", "name": "Undeposited Funds"})
        else:
            obj.setdefault("TxnStatus", "Pending")
            obj.pop("Balance", None)
        return obj

    def _compute_lines(self, lines: Any, nested: bool = False) -> tuple[float, float]:
        """Validate lines and fill server-computed fields; return (subtotal, discount)."""
        if not isinstance(lines, list):
            raise _required("Line")
        subtotal = 0.0
        discounts: list[JSON] = []
        kept: list[JSON] = []
        next_id = 1 + max(
            (int(x["Id"]) for x in lines if str(x.get("Id", "")).isdigit()), default=0
        )
        for line in lines:
            if not isinstance(line, dict):
                raise _required("Line.DetailType")
            kind = line.get("DetailType")
            if not kind:
                raise _required("Line.DetailType")
            if kind == "SubTotalLineDetail":
                continue  # recomputed below
            if kind == "SalesItemLineDetail":
                detail = line.get("SalesItemLineDetail") or {}
                line["SalesItemLineDetail"] = detail
                if detail.get("ItemRef"):
                    item = self._ref(
                        "Item", detail["ItemRef"], "Line.SalesItemLineDetail.ItemRef", "Item"
                    )
                else:
                    item = {"Id": "1", "Name": "Services", "UnitPrice": None}
                detail["ItemRef"] = {"value": item["Id"], "name": item.get("Name", "")}
                price = _num(detail.get("UnitPrice"))
                qty = _num(detail.get("Qty"))
                amount = _num(line.get("Amount"))
                if price is None and qty is not None and amount is not None and qty:
                    price = round(amount / qty, 5)
                if price is None:
                    price = _num(item.get("UnitPrice"))
                if qty is None:
                    qty = 1.0 if amount is None or not price else round(amount / price, 5)
                if price is not None:
                    detail["UnitPrice"] = price
                    amount = round(qty * price, 2)
                detail["Qty"] = qty
                if amount is None:
                    raise _required("Line.Amount")
                line["Amount"] = amount
                detail.setdefault("TaxCodeRef", TAX_NON)
                detail.setdefault("ItemAccountRef", item.get("IncomeAccountRef", SALES_ACCOUNT))
                subtotal += amount
            elif kind == "GroupLineDetail":
                group = line.get("GroupLineDetail") or {}
                if not group.get("GroupItemRef"):
                    raise _required("Line.GroupLineDetail.GroupItemRef")
                item = self._ref("Item", group["GroupItemRef"], "GroupItemRef", "Item")
                group["GroupItemRef"] = {"value": item["Id"], "name": item.get("Name", "")}
                inner = group.get("Line") or []
                inner_total, _ = self._compute_lines(inner, nested=True)
                group["Line"] = [x for x in inner if x.get("DetailType") != "SubTotalLineDetail"]
                line["GroupLineDetail"] = group
                line["Amount"] = inner_total
                subtotal += inner_total
            elif kind == "DiscountLineDetail":
                discounts.append(line)
            elif kind in ("DescriptionOnly",):
                line.setdefault("DescriptionLineDetail", {})
            else:
                raise Fault(
                    "2010",
                    "Request has invalid or unsupported property",
                    f"Unsupported Line.DetailType {kind}",
                    element="Line.DetailType",
                )
            if kind != "DiscountLineDetail":
                if not str(line.get("Id", "")).isdigit():
                    line["Id"] = str(next_id)
                    next_id += 1
                kept.append(line)
        subtotal = round(subtotal, 2)
        discount = 0.0
        for line in discounts:
            detail = line.get("DiscountLineDetail") or {}
            if detail.get("PercentBased") and _num(detail.get("DiscountPercent")) is not None:
                line["Amount"] = round(subtotal * float(detail["DiscountPercent"]) / 100, 2)
            elif _num(line.get("Amount")) is None:
                raise Fault(
                    "6090",
                    "Discount Line missing required info.",
                    "Discount amount or percent should be provided.",
                )
            discount += float(line["Amount"])
        for index, line in enumerate(kept, start=1):
            line["LineNum"] = index
            # QBO's key order, so that responses look like the real ones.
            ordered = {k: line[k] for k in LINE_KEY_ORDER if k in line}
            ordered.update(line)
            line.clear()
            line.update(ordered)
        if not nested:
            kept.append(
                {"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
            )
            kept.extend(discounts)
        lines[:] = kept
        return subtotal, round(discount, 2)

    def _duplicate_name(self, entity: str, field_name: str, name: str, own_id: str | None) -> None:
        folded = name.casefold()
        for obj in self._tables[entity].values():
            if obj.get(field_name, "").casefold() == folded and obj["Id"] != own_id:
                raise Fault(
                    "6240",
                    "Duplicate Name Exists Error",
                    "The name supplied already exists. : Another customer, vendor or employee "
                    f"is already using this name. Please use a different name. Id={obj['Id']}",
                    element=field_name,
                )

    def _prepare_customer(self, obj: JSON, current: JSON | None) -> JSON:
        names = [obj.get(k) for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")]
        display = (
            obj.get("DisplayName") or " ".join(n for n in names if n) or obj.get("CompanyName")
        )
        if not display:
            raise Fault(
                "6080",
                "No Name Provided",
                "Title, GivenName, MiddleName, FamilyName, DisplayName, Suffix - one of these "
                "must be non-empty",
            )
        if len(display) > 500:
            raise Fault(
                "2050",
                "String length is either shorter or longer than supported by specification",
                f"Min:1 Max:500 supplied length:{len(display)}",
                element="DisplayName",
            )
        self._duplicate_name("Customer", "DisplayName", display, current and current["Id"])
        obj["DisplayName"] = display
        obj.setdefault("PrintOnCheckName", display)
        obj.setdefault("Active", True)
        obj.setdefault("Taxable", False)
        obj.setdefault("CurrencyRef", USD)
        obj.setdefault("Balance", 0.0)
        obj.setdefault("BalanceWithJobs", obj["Balance"])
        obj.setdefault("PreferredDeliveryMethod", "Print")
        if obj.get("ParentRef"):
            parent = self._ref("Customer", obj["ParentRef"], "ParentRef", "Customer")
            obj.update(Job=True, Level=1)
            obj["FullyQualifiedName"] = f"{parent['DisplayName']}:{display}"
        else:
            obj.setdefault("Job", False)
            obj["FullyQualifiedName"] = display
        return obj

    def _prepare_item(self, obj: JSON, current: JSON | None) -> JSON:
        name = obj.get("Name")
        if not name:
            raise _required("Name")
        self._duplicate_name("Item", "Name", name, current and current["Id"])
        kind = obj.setdefault("Type", "NonInventory")
        if kind not in ("Inventory", "NonInventory", "Service", "Category", "Group"):
            raise Fault(
                "2010",
                "Request has invalid or unsupported property",
                f"Unsupported Item Type {kind}",
                element="Type",
            )
        if kind in ("Inventory", "NonInventory", "Service") and not obj.get("IncomeAccountRef"):
            obj["IncomeAccountRef"] = SALES_ACCOUNT
        if kind == "Inventory":
            for key in ("AssetAccountRef", "ExpenseAccountRef", "InvStartDate", "QtyOnHand"):
                if obj.get(key) is None:
                    raise _required(key)
            obj["TrackQtyOnHand"] = True
        obj.setdefault("Active", True)
        obj["FullyQualifiedName"] = name
        if obj.get("ParentRef"):
            parent = self._ref("Item", obj["ParentRef"], "ParentRef", "Item")
            obj.update(SubItem=True, Level=1, FullyQualifiedName=f"{parent['Name']}:{name}")
        return obj

    # ------------------------------------------------------------------ admin API

    def _admin(self, action: str, body: bytes) -> _Response:
        try:
            args = json.loads(body or b"{}")
            if not isinstance(args, dict):
                raise ValueError("arguments must be a JSON object")
            result = self._admin_call(action.strip("/"), args)
        except (KeyError, ValueError, TypeError) as exc:
            return self._json(400, {"error": str(exc)})
        return self._json(200, result if result is not None else {"ok": True})

    def _admin_call(self, action: str, args: JSON) -> Any:
        if action == "expire_access_tokens":
            return self.expire_access_tokens()
        if action == "inject_fault":
            return self.inject_fault(**args)
        if action == "clear_faults":
            return self.clear_faults()
        if action == "set_latency":
            return self.set_latency(args.get("seconds", 0.0))
        if action == "set_limits":
            return self.set_limits(bool(args.get("enforce", True)))
        if action == "request_log":
            return {"requests": self.request_log}
        if action == "reset_request_log":
            return self.reset_request_log()
        if action == "entities":
            return {"entities": self.entities(args["name"])}
        if action == "set_preference":
            return self.set_preference(args["name"], args["value"])
        if action == "update_entity":
            return self.update_entity(args["name"], args["id"], args.get("changes", {}))
        if action == "add_entity":
            return self.add_entity(args["name"], args["object"])
        if action == "delete_entity":
            return self.delete_entity(args["name"], args["id"])
        if action == "set_clock":
            when = args.get("now")
            return self.set_clock(dt.datetime.fromisoformat(when) if when else None)
        if action == "deny_consent":
            return self.deny_consent(bool(args.get("deny", True)))
        if action == "issue_refresh_token":
            return {"refresh_token": self.issue_refresh_token()}
        if action == "env":
            return self.env()
        raise KeyError(f"unknown emulator action {action!r}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        context: ssl.SSLContext,
        emulator: Emulator,
    ) -> None:
        self.ssl_context = context
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def close_connections(self) -> None:
        """Cut keep-alive connections, so a stopped emulator really stops answering."""
        with self.connections_lock:
            for sock in list(self.connections):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.connections.clear()

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake happens here, in the connection's own thread, so that a slow or
        # broken client never blocks the accept loop.
        request.settimeout(60)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls_sock = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self.connections_lock:
            self.connections.add(tls_sock)
        try:
            self.RequestHandlerClass(tls_sock, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            with self.connections_lock:
                self.connections.discard(tls_sock)
            try:
                tls_sock.close()
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "qbo-emulator"
    sys_version = ""
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        """Serve a GET request."""
        self.server.emulator._handle(self, "GET")

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        """Serve a POST request."""
        self.server.emulator._handle(self, "POST")

    def respond(self, response: _Response) -> None:
        """Write a response with Content-Length (keeps the connection alive)."""
        self.send_response(response.status, HTTPStatus(response.status).phrase)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("intuit_tid", secrets.token_hex(8))
        for name, value in response.headers:
            self.send_header(name, value)
        # Headers and body in one write: two small writes trip Nagle + delayed ACK (~40 ms
        # per request), which would dominate paging benchmarks.
        self._headers_buffer.append(b"\r\n" + response.body)  # type: ignore[attr-defined]
        self.flush_headers()

    def drop(self) -> None:
        """Close the connection without answering."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Route access logs to logging at debug level (never to stderr)."""
        logger.debug("%s - %s", self.address_string(), format % args)
