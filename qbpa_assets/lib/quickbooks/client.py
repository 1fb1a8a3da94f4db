"""QuickBooks Online v3 client: auth, token rotation, throttling, retries and fast paging.

Built on python-quickbooks (URL layout, ``minorversion``, ``process_request``) and intuit-oauth
(discovery, token endpoint). python-quickbooks is used for the transport only, not for its
object model nor its error handling, because:

* it raises HTTP 429 as ``ValidationException`` (code 3001) and 5010/6000/6140 as plain
  ``QuickbooksException``, so retry decisions here read the HTTP status and Fault code instead;
* it cannot parse QuickBooks' XML Fault bodies (throttling answers sometimes come as XML);
* the page extractor needs each response body untouched, to write it to disk for DuckDB.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import os
import random
import re
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from quickbooks.client import QuickBooks

from qbpa_assets.lib.quickbooks import oauth
from qbpa_assets.lib.quickbooks.errors import (
    QboAuthError,
    QboConnectionError,
    QboError,
    QboFault,
    QboRetriesExhausted,
)
from qbpa_assets.lib.quickbooks.settings import MAX_CONCURRENCY_LIMIT, QboSettings
from qbpa_assets.lib.quickbooks.tokens import TokenGrant, TokenManager, TokenStore

# Stay a little under QuickBooks' per-company limits (500 requests/min, 40 batch requests/min)
# so that another tool on the same company does not push us over.
REQUESTS_PER_MINUTE = 480
BATCH_REQUESTS_PER_MINUTE = 40
MAX_BATCH_ITEMS = 30
MAX_PAGE_SIZE = 1000
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_FAULT_CODES = frozenset({"3001"})  # ThrottleExceeded
CONNECT_TIMEOUT = 10.0
_ENTITY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


@dataclass
class ExtractResult:
    """What :meth:`QboClient.extract_pages` wrote.

    Attributes:
        entity: QuickBooks entity name.
        files: Page files in page order (``page-00001.json`` …), raw response bodies.
        rows: Entities across all pages.
        pages: Page requests made.
        api_calls: API requests made (COUNT + pages + retries).
    """

    entity: str
    files: list[Path] = field(default_factory=list)
    rows: int = 0
    pages: int = 0
    api_calls: int = 0


class _SlidingWindow:
    """At most ``limit`` events per ``period`` seconds (blocking ``acquire``)."""

    def __init__(self, limit: int, period: float = 60.0) -> None:
        self.limit = limit
        self.period = period
        self._events: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a free slot; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                while self._events and now - self._events[0] >= self.period:
                    self._events.popleft()
                if len(self._events) < self.limit:
                    self._events.append(now)
                    return waited
                delay = self.period - (now - self._events[0]) + 0.01
            time.sleep(delay)
            waited += delay


class _CompanyLimits:
    """Client-side limits shared by every client of one company in this process."""

    _registry: dict[str, _CompanyLimits] = {}
    _registry_lock = threading.Lock()

    def __init__(self) -> None:
        self.requests = _SlidingWindow(REQUESTS_PER_MINUTE)
        self.batches = _SlidingWindow(BATCH_REQUESTS_PER_MINUTE)
        self.in_flight = threading.BoundedSemaphore(MAX_CONCURRENCY_LIMIT)

    @classmethod
    def for_company(cls, key: str) -> _CompanyLimits:
        with cls._registry_lock:
            if key not in cls._registry:
                cls._registry[key] = cls()
            return cls._registry[key]


class _ApiSession(requests.Session):
    """HTTP session for API calls: per-thread bearer token, forced CA bundle and timeouts.

    python-quickbooks' ``process_request`` reads ``session.access_token`` and calls
    ``session.request``; pages are fetched from several threads, so the token each thread sends
    is thread-local (it must know exactly which token a 401 refers to).
    """

    def __init__(self, ca_bundle: str | None, timeout: float, pool_size: int) -> None:
        super().__init__()
        self._verify = ca_bundle
        self._timeout = (min(CONNECT_TIMEOUT, timeout), timeout)
        self._local = threading.local()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self.mount("https://", adapter)

    @property
    def access_token(self) -> str:
        """The bearer token of the calling thread."""
        return self._local.token

    @access_token.setter
    def access_token(self, value: str) -> None:
        self._local.token = value

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        """Send with ``verify`` forced (``REQUESTS_CA_BUNDLE`` would override the session's)."""
        if self._verify:
            kwargs["verify"] = self._verify
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)

    def __repr__(self) -> str:
        return "_ApiSession()"


def _parse_xml_fault(text: str) -> tuple[str | None, list[dict[str, Any]]] | None:
    """Parse QuickBooks' XML ``IntuitResponse``/``Fault`` body into (type, errors)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    fault = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Fault"), None)
    if fault is None:
        return None
    errors = []
    for err in fault:
        if err.tag.rsplit("}", 1)[-1] != "Error":
            continue
        fields = {child.tag.rsplit("}", 1)[-1].lower(): (child.text or "") for child in err}
        errors.append(
            {
                "code": err.get("code"),
                "element": err.get("element"),
                "message": fields.get("message", ""),
                "detail": fields.get("detail", ""),
            }
        )
    return fault.get("type"), errors


def _normalize_json_fault(fault: Any) -> tuple[str | None, list[dict[str, Any]]]:
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


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _check_entity(entity: str) -> str:
    if not _ENTITY_RE.match(entity or ""):
        raise ValueError(f"not a QuickBooks entity name: {entity!r}")
    return entity


def _quickbooks_datetime(value: datetime) -> str:
    """ISO 8601 with offset, as CDC's ``changedSince`` wants (naive = UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="seconds")


class QboClient:
    """A QuickBooks Online company, with the hard parts handled.

    Usable as a context manager (``close()`` on exit). Thread-safe: one client may serve
    several threads.

    Args:
        settings: Connection settings.
        logger: Where progress, retries and waits are reported (a ``logging.Logger`` or a
            Dagster ``context.log``). Tokens and secrets are never logged.
        backoff_base: First retry delay in seconds (doubles each attempt, with jitter).
        backoff_cap: Longest single wait, also applied to ``Retry-After``.
    """

    def __init__(
        self,
        settings: QboSettings,
        logger: logging.Logger | Any | None = None,
        *,
        backoff_base: float = 0.5,
        backoff_cap: float = 60.0,
    ) -> None:
        settings.validate()
        self.settings = settings
        self._log = logger or logging.getLogger(__name__)
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._base_url = settings.resolved_api_base_url
        self._limits = _CompanyLimits.for_company(f"{self._base_url}|{settings.realm_id}")
        self._stats: collections.Counter[str] = collections.Counter()
        self._stats_lock = threading.Lock()
        self._auth: oauth.CaAwareAuthClient | None = None
        self._auth_lock = threading.Lock()
        self._session = _ApiSession(
            settings.ca_bundle, settings.timeout, pool_size=MAX_CONCURRENCY_LIMIT
        )
        # python-quickbooks does the URL layout and the request plumbing. It is created without
        # an AuthClient on purpose: with one, its constructor refreshes the token at once and
        # never persists the rotated refresh token; our TokenManager owns tokens instead.
        self._qb = QuickBooks(company_id=settings.realm_id, minorversion=settings.minor_version)
        self._qb.sandbox = False
        self._qb.api_url_v3 = self._base_url
        self._qb.session = self._session
        self._tokens = TokenManager(
            TokenStore(settings.token_store_path),
            self._refresh,
            seed_refresh_token=settings.refresh_token,
            realm_id=settings.realm_id,
            logger=self._log,
        )

    def __repr__(self) -> str:
        return f"QboClient(realm_id={self.settings.realm_id!r}, api={self._base_url!r})"

    # ----------------------------------------------------------------- lifecycle / stats

    def __enter__(self) -> QboClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP sessions."""
        self._session.close()
        if self._auth is not None:
            self._auth.close()

    @property
    def stats(self) -> dict[str, int]:
        """API calls made by this client: ``requests``, per op, ``retries``, ``refreshes``."""
        with self._stats_lock:
            out = {"requests": 0, "query": 0, "batch": 0, "retries": 0, "refreshes": 0}
            out.update(self._stats)
        out["refreshes"] = self._tokens.refreshes
        return out

    def _bump(self, key: str, n: int = 1) -> None:
        with self._stats_lock:
            self._stats[key] += n

    # ----------------------------------------------------------------- auth

    def _auth_client(self) -> oauth.CaAwareAuthClient:
        with self._auth_lock:
            if self._auth is None:
                self._auth = oauth.make_auth_client(self.settings)
            return self._auth

    def _refresh(self, refresh_token: str) -> TokenGrant:
        return oauth.refresh_grant(self._auth_client(), refresh_token)

    # ----------------------------------------------------------------- transport

    def _url(self, path: str) -> str:
        return f"{self._qb.api_url}/company/{self.settings.realm_id}/{path}"

    def _error_from_response(self, resp: requests.Response, context: str) -> QboError:
        status = resp.status_code
        text = resp.text or ""
        parsed: tuple[str | None, list[dict[str, Any]]] | None = None
        if text.lstrip().startswith("<"):
            parsed = _parse_xml_fault(text)
        else:
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = None
            if isinstance(body, dict):
                fault = body.get("Fault") or body.get("fault")
                if fault is not None:
                    parsed = _normalize_json_fault(fault)
        if parsed and parsed[1]:
            return QboFault.from_errors(
                parsed[1], fault_type=parsed[0], status=status, context=context
            )
        snippet = " ".join(text.split())[:200]
        return QboError(
            f"{context}: HTTP {status} from QuickBooks" + (f": {snippet}" if snippet else ""),
            status=status,
        )

    def _is_retriable(self, err: QboError) -> bool:
        if isinstance(err, QboConnectionError):
            return err.code != "tls"
        return (err.status in RETRY_STATUSES) or (err.code in RETRY_FAULT_CODES)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = min(self._backoff_cap, self._backoff_base * (2 ** (attempt - 1)))
        delay = random.uniform(delay / 2, delay)  # jitter: parallel workers must not sync up
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._backoff_cap))
        return delay

    def _request(
        self,
        method: str,
        path: str,
        *,
        op: str,
        context: str,
        params: dict[str, Any] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        request_id: str | None = None,
    ) -> tuple[bytes, dict[str, Any]]:
        """Send one API call with auth, limits and retries; return (raw body, parsed body)."""
        url = self._url(path)
        base_params = dict(params or {})
        base_params["minorversion"] = self.settings.minor_version
        if request_id:
            # The same requestid on every attempt: QuickBooks then answers a repeated write
            # with the original response instead of writing twice.
            base_params["requestid"] = request_id
        headers = {
            "Content-Type": content_type,
            "Accept": "application/json",
            "User-Agent": "qbpa (python-quickbooks V3 library)",
        }
        attempt = 0
        refreshed_for_401 = False
        rejected: str | None = None  # the access token a 401 refused, to be replaced
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                token = self._tokens.invalidate(rejected) if rejected else self._tokens.current()
                rejected = None
                waited = self._limits.requests.acquire()
                if op == "batch":
                    waited += self._limits.batches.acquire()
                if waited > 0.5:
                    self._bump("throttle_waits")
                    self._log.info(
                        f"{context}: waited {waited:.1f}s for the client-side rate limit"
                    )
                with self._limits.in_flight:
                    self._session.access_token = token
                    self._bump("requests")
                    self._bump(op)
                    resp = self._qb.process_request(
                        method, url, headers=dict(headers), params=dict(base_params), data=body
                    )
                    raw = resp.content
            except requests.exceptions.RequestException as exc:
                err: QboError = oauth.connection_error(url, exc, "QuickBooks")
                if not self._is_retriable(err):
                    raise err from None
            except QboError as exc:  # from a token refresh
                if not self._is_retriable(exc):
                    raise
                err = exc
            else:
                if resp.status_code == 401:
                    if refreshed_for_401:
                        raise QboAuthError(
                            f"{context}: QuickBooks still answers 401 after a token refresh; check "
                            "QBO_REALM_ID and the app's access to this company, or run "
                            "`qbpa authorize`",
                            status=401,
                            code="401",
                        )
                    refreshed_for_401 = True
                    self._log.info(f"{context}: access token rejected (401), refreshing it")
                    rejected = token
                    attempt -= 1  # the refresh is the prescribed answer, not a retry
                    continue
                if resp.status_code == 200:
                    data, err = self._parse_ok(resp, raw, context)
                    if err is None:
                        return raw, data
                else:
                    err = self._error_from_response(resp, context)
                    retry_after = _retry_after(resp)
                if not self._is_retriable(err):
                    raise err
                if err.status == 429 or err.code == "3001":
                    self._bump("throttled")
            if attempt > self.settings.max_retries:
                raise QboRetriesExhausted(
                    f"{context}: gave up after {attempt} attempts ({method} {url}); last error: "
                    f"{err.message}",
                    attempts=attempt,
                    last_error=err,
                )
            delay = self._backoff(attempt, retry_after)
            self._bump("retries")
            self._log.warning(
                f"{context}: attempt {attempt} failed ({err.message}); retrying in {delay:.2f}s"
            )
            time.sleep(delay)

    def _parse_ok(
        self, resp: requests.Response, raw: bytes, context: str
    ) -> tuple[dict[str, Any], QboError | None]:
        """Parse a 200 body; a ``Fault`` inside a 200 is still an error."""
        text_start = raw[:64].lstrip()
        if text_start.startswith(b"<"):
            parsed = _parse_xml_fault(raw.decode("utf-8", "replace"))
            if parsed and parsed[1]:
                return {}, QboFault.from_errors(
                    parsed[1], fault_type=parsed[0], status=200, context=context
                )
            return {}, QboError(f"{context}: QuickBooks answered XML, JSON expected", status=200)
        try:
            data = json.loads(raw)
        except ValueError:
            return {}, QboError(f"{context}: QuickBooks answered invalid JSON", status=200)
        if not isinstance(data, dict):
            return {}, QboError(f"{context}: unexpected QuickBooks answer", status=200)
        fault = data.get("Fault")
        if fault is not None:
            ftype, errors = _normalize_json_fault(fault)
            return data, QboFault.from_errors(errors, fault_type=ftype, status=200, context=context)
        return data, None

    # ----------------------------------------------------------------- public API

    def query(self, statement: str) -> dict[str, Any]:
        """Run a query; return the ``QueryResponse`` dict (``{}`` when nothing matched)."""
        _, data = self._request(
            "POST",
            "query",
            op="query",
            context=f"query {statement[:80]!r}",
            body=statement.encode("utf-8"),
            content_type="application/text",
        )
        return data.get("QueryResponse") or {}

    def count(self, entity: str, where: str | None = None) -> int:
        """``SELECT COUNT(*) FROM entity [WHERE …]``."""
        _check_entity(entity)
        statement = f"SELECT COUNT(*) FROM {entity}" + (f" WHERE {where}" if where else "")
        return int(self.query(statement).get("totalCount") or 0)

    def _page_statement(self, entity: str, where: str | None, start: int, size: int) -> str:
        return (
            f"SELECT * FROM {entity}"
            + (f" WHERE {where}" if where else "")
            + f" ORDERBY Id STARTPOSITION {start} MAXRESULTS {size}"
        )

    def _fetch_page(
        self, entity: str, where: str | None, number: int, size: int, dest_dir: Path
    ) -> tuple[Path, int]:
        start = (number - 1) * size + 1
        raw, data = self._request(
            "POST",
            "query",
            op="query",
            context=f"{entity} page {number} (start {start})",
            body=self._page_statement(entity, where, start, size).encode("utf-8"),
            content_type="application/text",
        )
        # The body is written exactly as received; it was parsed only to verify it (a Fault in
        # a 200) and to count rows. DuckDB parses the file again: no Python object survives.
        rows = len((data.get("QueryResponse") or {}).get(entity) or [])
        path = dest_dir / f"page-{number:05d}.json"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(raw)
        os.replace(tmp, path)
        self._bump("pages")
        self._log.info(f"{entity} page {number} (start {start}): {rows} rows")
        return path, rows

    def extract_pages(
        self, entity: str, dest_dir: Path, where: str | None = None, page_size: int = 1000
    ) -> ExtractResult:
        """Write every matching entity's raw page bodies into ``dest_dir``.

        COUNT first, then the pages it implies (``STARTPOSITION`` 1, 1+page_size, …, ``ORDERBY
        Id``) fetched concurrently, at most ``settings.max_concurrency`` in flight. If the last
        page comes back full, rows were added meanwhile: keep paging sequentially until a short
        page. Existing ``page-*.json`` files in ``dest_dir`` are removed first.

        Args:
            entity: QuickBooks entity (``Customer``, ``Item``, ``Invoice``…).
            dest_dir: Folder for ``page-00001.json`` …
            where: Query condition, e.g. ``Active IN (true, false)`` for list entities.
            page_size: Rows per page, 1..1000.

        Returns:
            The files in page order and the row / page / API-call counts.
        """
        _check_entity(entity)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
        dest_dir = Path(dest_dir)
        dest_dir.mkdir(parents=True, exist_ok=True)
        for old in dest_dir.glob("page-*.json"):
            old.unlink()
        before = self.stats["requests"]
        started = time.monotonic()
        total = self.count(entity, where)
        # Always fetch page 1, even for 0 rows: the caller then always has a (maybe empty) page.
        planned = max(1, math.ceil(total / page_size))
        self._log.info(
            f"extracting {entity}: {total} rows in {planned} page(s) of {page_size}, "
            f"{self.settings.effective_concurrency} in flight"
        )
        workers = min(self.settings.effective_concurrency, planned)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"qbo-{entity}") as pool:
            futures = [
                pool.submit(self._fetch_page, entity, where, n, page_size, dest_dir)
                for n in range(1, planned + 1)
            ]
            try:
                results = [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        files = [path for path, _ in results]
        rows = sum(n for _, n in results)
        last_rows = results[-1][1]
        number = planned
        while last_rows == page_size:  # the data grew between COUNT and paging
            number += 1
            path, last_rows = self._fetch_page(entity, where, number, page_size, dest_dir)
            files.append(path)
            rows += last_rows
        api_calls = self.stats["requests"] - before
        self._log.info(
            f"extracted {entity}: {rows} rows, {len(files)} page(s), {api_calls} API call(s) "
            f"in {time.monotonic() - started:.1f}s"
        )
        return ExtractResult(
            entity=entity, files=files, rows=rows, pages=len(files), api_calls=api_calls
        )

    def read(self, entity: str, id: str) -> dict[str, Any]:
        """Read one object by Id (raises :class:`QboFault` 610 when it does not exist)."""
        _check_entity(entity)
        _, data = self._request(
            "GET",
            f"{entity.lower()}/{quote(str(id), safe='')}",
            op="read",
            context=f"read {entity} {id}",
        )
        return data.get(entity) or {}

    def create(self, entity: str, payload: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Create an object; retries reuse ``request_id`` so nothing is created twice."""
        _check_entity(entity)
        if not request_id or len(request_id) > 50:
            raise ValueError("request_id must be 1..50 characters")
        _, data = self._request(
            "POST",
            entity.lower(),
            op="create",
            context=f"create {entity} (requestid {request_id})",
            body=json.dumps(payload).encode("utf-8"),
            request_id=request_id,
        )
        return data.get(entity) or {}

    def batch(self, items: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
        """Send ≤ 30 batch items; return the ``BatchItemResponse`` list.

        Per-item Faults are returned in the list, not raised. Request-level failures are
        retried with the same ``request_id`` (≤ 36 chars); calls are paced to ≤ 40/min.
        """
        if not items:
            return []
        if len(items) > MAX_BATCH_ITEMS:
            raise ValueError(f"a batch holds at most {MAX_BATCH_ITEMS} items, got {len(items)}")
        if not request_id or len(request_id) > 36:
            raise ValueError("a batch request_id must be 1..36 characters")
        _, data = self._request(
            "POST",
            "batch",
            op="batch",
            context=f"batch of {len(items)} (requestid {request_id})",
            body=json.dumps({"BatchItemRequest": items}).encode("utf-8"),
            request_id=request_id,
        )
        return list(data.get("BatchItemResponse") or [])

    def cdc(self, entities: list[str], changed_since: datetime) -> dict[str, list[dict[str, Any]]]:
        """Change data capture: entity -> changed objects, tombstones (``status: Deleted``) too."""
        names = [_check_entity(e) for e in entities]
        _, data = self._request(
            "GET",
            "cdc",
            op="cdc",
            context=f"cdc {','.join(names)}",
            params={
                "entities": ",".join(names),
                "changedSince": _quickbooks_datetime(changed_since),
            },
        )
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for block in data.get("CDCResponse") or []:
            responses = block.get("QueryResponse") or []
            if isinstance(responses, dict):
                responses = [responses]
            for response in responses:
                for name in names:
                    out[name].extend(response.get(name) or [])
        return out

    def preferences(self) -> dict[str, Any]:
        """The company ``Preferences`` object."""
        _, data = self._request("GET", "preferences", op="read", context="read Preferences")
        return data.get("Preferences") or {}

    def company_info(self) -> dict[str, Any]:
        """The ``CompanyInfo`` object."""
        realm = quote(self.settings.realm_id, safe="")
        _, data = self._request(
            "GET", f"companyinfo/{realm}", op="read", context="read CompanyInfo"
        )
        return data.get("CompanyInfo") or {}
