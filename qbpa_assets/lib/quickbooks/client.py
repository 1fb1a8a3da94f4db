"""QuickBooks Online v3 client: one company, the hard parts composed from small layers.

Built on python-quickbooks (URL layout, ``minorversion``, ``process_request``) and intuit-oauth
(discovery, token endpoint), used for the transport only, not for their object model nor their
error handling. Each concern lives in its own module, like stripe-python's client:

* :mod:`.transport` — the HTTP session (``QBO_CA_BUNDLE`` trusted per request, timeouts);
* :mod:`.tokens` / :mod:`.oauth` — access tokens, rotation, refresh on 401;
* :mod:`.ratelimit` — requests/min, batches/min and requests in flight per company;
* :mod:`.retrying` — which failures are retried and for how long (via :mod:`qbpa_assets.lib.retry`);
* :mod:`.faults` — status + Fault (JSON, XML, inside a 200) to :mod:`.errors`;
* :mod:`.paging` — COUNT + concurrent pages written to disk untouched;
* :mod:`.requestor` — one call through all of the above (401 refresh, retries, counters).

This module wires them together for one company and offers the API operations (query, count,
pages, read, create, batch, CDC, preferences, company info).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from qbpa_assets.lib.quickbooks import faults, oauth, transport
from qbpa_assets.lib.quickbooks.errors import QboError
from qbpa_assets.lib.quickbooks.limits import (
    BATCH_MAX_OPERATIONS,
    BATCH_REQUEST_ID_MAX,
    QUERY_MAX_RESULTS,
    REQUEST_ID_MAX,
)
from qbpa_assets.lib.quickbooks.paging import ExtractResult, Pager, check_entity
from qbpa_assets.lib.quickbooks.ratelimit import MAX_IN_FLIGHT, CompanyLimits
from qbpa_assets.lib.quickbooks.requestor import Requestor
from qbpa_assets.lib.quickbooks.retrying import QboRetryPolicy, is_retriable
from qbpa_assets.lib.quickbooks.settings import QboSettings
from qbpa_assets.lib.quickbooks.tokens import TokenGrant, TokenManager, TokenStore

__all__ = ["ExtractResult", "QboClient"]


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
        backoff_cap: Longest computed wait (a ``Retry-After`` is honoured beyond it).
        sleep: Waits between tries; tests inject a fake to check long budgets quickly.
        clock: Monotonic clock of the retry budgets, injected with ``sleep``.
    """

    def __init__(
        self,
        settings: QboSettings,
        logger: logging.Logger | Any | None = None,
        *,
        backoff_base: float = 0.5,
        backoff_cap: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings.validate()
        self.settings = settings
        self._log = logger or logging.getLogger(__name__)
        self._base_url = settings.resolved_api_base_url
        self._auth: oauth.CaAwareAuthClient | None = None
        self._auth_lock = threading.Lock()
        self._session = transport.ApiSession(
            settings.ca_bundle, settings.timeout, pool_size=MAX_IN_FLIGHT
        )
        self._qb = transport.make_quickbooks(
            settings.realm_id, settings.minor_version, self._base_url, self._session
        )
        self._tokens = TokenManager(
            TokenStore(settings.token_store_path),
            self._refresh,
            seed_refresh_token=settings.refresh_token,
            realm_id=settings.realm_id,
            logger=self._log,
        )
        self._requestor = Requestor(
            self._qb,
            self._session,
            self._tokens,
            CompanyLimits.for_company(f"{self._base_url}|{settings.realm_id}"),
            QboRetryPolicy.build(
                settings.max_retries, backoff_base, backoff_cap, settings.throttle_budget
            ),
            self._log,
            sleep,
            clock,
        )
        self._pager = Pager(
            self._query_bytes,
            self.count,
            lambda raw: faults.parse_ok(raw, "page")[0],
            lambda: self.stats["requests"],
            self._log,
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
        out = {"requests": 0, "query": 0, "batch": 0, "retries": 0, "refreshes": 0}
        out.update(self._requestor.stats())
        out["refreshes"] = self._tokens.refreshes
        return out

    def _bump(self, key: str, n: int = 1) -> None:
        self._requestor.bump(key, n)

    # ----------------------------------------------------------------- auth

    def _auth_client(self) -> oauth.CaAwareAuthClient:
        with self._auth_lock:
            if self._auth is None:
                self._auth = oauth.make_auth_client(self.settings)
            return self._auth

    def _refresh(self, refresh_token: str) -> TokenGrant:
        return oauth.refresh_grant(self._auth_client(), refresh_token)

    # ----------------------------------------------------------------- one call

    def _parse_ok(self, resp: Any, raw: bytes, context: str):
        """Parse a 200 body; a ``Fault`` inside a 200 is still an error (see :mod:`.faults`)."""
        return faults.parse_ok(raw, context)

    def _is_retriable(self, err: QboError) -> bool:
        return is_retriable(err)

    def _request(self, method: str, path: str, **kwargs: Any) -> tuple[bytes, Any]:
        url = self._requestor.url(self.settings.realm_id, path)
        return self._requestor.request(
            method, url, minor_version=self.settings.minor_version, **kwargs
        )

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

    def _query_bytes(self, statement: str, context: str) -> bytes:
        """Run a query; return its body unparsed (checked for Faults, see ``check_page``)."""
        raw, _ = self._request(
            "POST",
            "query",
            op="query",
            context=context,
            body=statement.encode("utf-8"),
            content_type="application/text",
            check=lambda raw, ctx: (None, faults.check_page(raw, ctx)),
        )
        self._bump("pages")
        return raw

    def count(self, entity: str, where: str | None = None) -> int:
        """``SELECT COUNT(*) FROM entity [WHERE …]``."""
        check_entity(entity)
        statement = f"SELECT COUNT(*) FROM {entity}" + (f" WHERE {where}" if where else "")
        return int(self.query(statement).get("totalCount") or 0)

    def extract_pages(
        self,
        entity: str,
        dest_dir: Path,
        where: str | None = None,
        page_size: int = QUERY_MAX_RESULTS,
        on_pages: Callable[[list[Path]], None] | None = None,
        pages_per_call: int = 1,
    ) -> ExtractResult:
        """Write every matching entity's raw page bodies into ``dest_dir``.

        COUNT first, then the pages it implies fetched concurrently, at most
        ``settings.max_concurrency`` in flight (see :mod:`.paging`).

        Args:
            entity: QuickBooks entity (``Customer``, ``Item``, ``Invoice``…).
            dest_dir: Folder for ``page-00001.json`` …
            where: Query condition, e.g. ``Active IN (true, false)`` for list entities.
            page_size: Rows per page, 1..1000.
            on_pages: Called with each run of ``pages_per_call`` written pages, in page
                order, while the next pages download (e.g. a loader); the rest at the end.
            pages_per_call: Pages per ``on_pages`` call.

        Returns:
            The files in page order and the row / page / API-call counts.
        """
        return self._pager.extract(
            entity,
            dest_dir,
            where,
            page_size,
            self.settings.effective_concurrency,
            on_pages=on_pages,
            pages_per_call=pages_per_call,
        )

    def read(self, entity: str, id: str) -> dict[str, Any]:
        """Read one object by Id (raises :class:`QboFault` 610 when it does not exist)."""
        check_entity(entity)
        _, data = self._request(
            "GET",
            f"{entity.lower()}/{quote(str(id), safe='')}",
            op="read",
            context=f"read {entity} {id}",
        )
        return data.get(entity) or {}

    def create(self, entity: str, payload: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Create an object; retries reuse ``request_id`` so nothing is created twice."""
        check_entity(entity)
        if not request_id or len(request_id) > REQUEST_ID_MAX:
            raise ValueError(f"request_id must be 1..{REQUEST_ID_MAX} characters")
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
        if len(items) > BATCH_MAX_OPERATIONS:
            raise ValueError(
                f"a batch holds at most {BATCH_MAX_OPERATIONS} items, got {len(items)}"
            )
        if not request_id or len(request_id) > BATCH_REQUEST_ID_MAX:
            raise ValueError(f"a batch request_id must be 1..{BATCH_REQUEST_ID_MAX} characters")
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
        names = [check_entity(e) for e in entities]
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
