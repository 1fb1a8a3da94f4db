"""Paging: every row of a query as raw page files, pages fetched concurrently within the limit.

Shaped like stripe-python's auto-paging: a COUNT, then the pages it implies (``STARTPOSITION``
1, 1+size, … ``ORDERBY Id``), at most ``concurrency`` in flight (never more than QuickBooks' 10
per company), so an entity of N rows costs ceil(N/1000) + 1 requests. Each page body is written
to disk exactly as it came off the wire: no Python object is built per entity, DuckDB parses
and counts the rows where it loads them (:mod:`qbpa_assets.lib.warehouse.raw`).
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qbpa_assets.lib.quickbooks.limits import MAX_CONCURRENT_REQUESTS, QUERY_MAX_RESULTS

_ENTITY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
# QuickBooks (and the emulator) close a QueryResponse with "startPosition":s,"maxResults":n
# after the entity array: n is the page's row count. Inside a JSON string a quote is escaped,
# so entity text cannot fake it; a page without it is parsed whole (see rows_in_page).
#: The closing ``maxResults`` of a page (the raw loader's SQL reads it with the same pattern).
MAX_RESULTS_RE = re.compile(rb'"maxResults"\s*:\s*(\d+)')
#: How many last bytes of a page hold its ``maxResults``.
PAGE_TAIL = 256


def max_results(tail: bytes) -> int | None:
    """The ``maxResults`` in a page's last :data:`PAGE_TAIL` bytes, ``None`` when it has none."""
    found = MAX_RESULTS_RE.findall(tail[-PAGE_TAIL:])
    return int(found[-1]) if found else None


@dataclass
class ExtractResult:
    """What :func:`extract_pages` wrote.

    Attributes:
        entity: QuickBooks entity name.
        files: Page files in page order (``page-00001.json`` …), raw response bodies.
        rows: Entities across all pages, as QuickBooks reported them per page.
        pages: Page requests made.
        api_calls: API requests made (COUNT + pages + retries).
    """

    entity: str
    files: list[Path] = field(default_factory=list)
    rows: int = 0
    pages: int = 0
    api_calls: int = 0


def check_entity(entity: str) -> str:
    """``entity`` if it is a plain entity name (it is interpolated into queries)."""
    if not _ENTITY_RE.match(entity or ""):
        raise ValueError(f"not a QuickBooks entity name: {entity!r}")
    return entity


def page_statement(entity: str, where: str | None, start: int, size: int) -> str:
    """The query of one page."""
    return (
        f"SELECT * FROM {entity}"
        + (f" WHERE {where}" if where else "")
        + f" ORDERBY Id STARTPOSITION {start} MAXRESULTS {size}"
    )


def rows_in_page(raw: bytes, entity: str, parse: Callable[[bytes], dict[str, Any]]) -> int:
    """Rows in a page body: its closing ``maxResults``, else a full parse (rare)."""
    rows = max_results(raw)
    if rows is not None:
        return rows
    return len((parse(raw).get("QueryResponse") or {}).get(entity) or [])


class Pager:
    """Fetches pages through a client's ``query_bytes`` (auth, limits, retries, fault checks).

    Args:
        query_bytes: Sends a query, returns the checked 200 body (raises on any error).
        count: ``count(entity, where)``.
        parse: Parses a body (only for pages without a ``maxResults``).
        requests_made: The client's request counter (for ``api_calls``).
        log: Progress lines.
    """

    def __init__(
        self,
        query_bytes: Callable[[str, str], bytes],
        count: Callable[[str, str | None], int],
        parse: Callable[[bytes], dict[str, Any]],
        requests_made: Callable[[], int],
        log: logging.Logger | Any,
    ) -> None:
        self._query_bytes = query_bytes
        self._count = count
        self._parse = parse
        self._requests_made = requests_made
        self._log = log

    def _fetch(
        self, entity: str, where: str | None, number: int, size: int, dest_dir: Path
    ) -> tuple[Path, int]:
        start = (number - 1) * size + 1
        context = f"{entity} page {number} (start {start})"
        raw = self._query_bytes(page_statement(entity, where, start, size), context)
        rows = rows_in_page(raw, entity, self._parse)
        path = dest_dir / f"page-{number:05d}.json"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(raw)
        os.replace(tmp, path)
        self._log.debug(f"{context}: {rows} rows")
        return path, rows

    def extract(
        self,
        entity: str,
        dest_dir: Path,
        where: str | None = None,
        page_size: int = QUERY_MAX_RESULTS,
        concurrency: int = 4,
        on_pages: Callable[[list[Path]], None] | None = None,
        pages_per_call: int = 1,
    ) -> ExtractResult:
        """Write every matching entity's raw page bodies into ``dest_dir``.

        If the last page comes back full, rows were added meanwhile: keep paging sequentially
        until a short page. Existing ``page-*.json`` files in ``dest_dir`` are removed first.
        With ``on_pages``, each run of ``pages_per_call`` pages is handed to it, in page order,
        as soon as those pages are written, while the next ones download (the rest at the end);
        an exception it raises stops the extraction.
        """
        check_entity(entity)
        if not 1 <= page_size <= QUERY_MAX_RESULTS:
            raise ValueError(f"page_size must be 1..{QUERY_MAX_RESULTS}, got {page_size}")
        dest_dir = Path(dest_dir)
        dest_dir.mkdir(parents=True, exist_ok=True)
        for old in dest_dir.glob("page-*.json"):
            old.unlink()
        before = self._requests_made()
        started = time.monotonic()
        total = self._count(entity, where)
        # Always fetch page 1, even for 0 rows: the caller then always has a (maybe empty) page.
        planned = max(1, math.ceil(total / page_size))
        workers = max(1, min(concurrency, MAX_CONCURRENT_REQUESTS, planned))
        self._log.info(
            f"extracting {entity}: {total} rows in {planned} page(s) of {page_size}, "
            f"{workers} in flight"
        )
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"qbo-{entity}") as pool:
            futures = [
                pool.submit(self._fetch, entity, where, n, page_size, dest_dir)
                for n in range(1, planned + 1)
            ]
            ready: list[Path] = []  # written pages not yet handed to on_pages

            def hand_over(path: Path) -> None:
                if on_pages is not None:
                    ready.append(path)
                    if len(ready) >= pages_per_call:
                        on_pages(ready[:])
                        ready.clear()

            try:
                results = []
                for f in futures:
                    results.append(f.result())
                    hand_over(results[-1][0])
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
            path, last_rows = self._fetch(entity, where, number, page_size, dest_dir)
            files.append(path)
            rows += last_rows
            hand_over(path)
        if ready:
            on_pages(ready[:])
        api_calls = self._requests_made() - before
        self._log.info(
            f"extracted {entity}: {rows} rows, {len(files)} page(s), {api_calls} API call(s) "
            f"in {time.monotonic() - started:.1f}s"
        )
        return ExtractResult(
            entity=entity, files=files, rows=rows, pages=len(files), api_calls=api_calls
        )
