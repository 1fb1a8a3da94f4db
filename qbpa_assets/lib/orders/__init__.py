"""PocketAdvantage orders → QuickBooks sales documents, exactly once.

The flow, per daily partition window ``[start, end)`` of ORDER_DATE:

1. :func:`copy_orders` reads the window from the Inventiv database (SQL from the mapping file)
   into DuckDB ``inventiv_db.orders`` / ``inventiv_db.order_lines`` (delete-then-insert).
2. :func:`import_orders` validates every order in DuckDB SQL against the staged QuickBooks
   customers and items (collecting *every* reason), maps the valid ones to the target entity
   (Estimate by default; Invoice or SalesReceipt) with the SQL expressions of the mapping file,
   and creates them through QuickBooks batch requests.

Exactly once rests on three legs, because a run can die at any point:

- the ledger ``quickbooks.sales_orders`` (order id → QuickBooks id) is written right after each
  batch, and orders already in it are never sent again;
- before creating, the DocNumbers are looked up in QuickBooks, and a document an earlier crashed
  run created (accepted by QuickBooks, never written to the ledger) is adopted, not re-created;
- every batch carries a deterministic ``requestid`` (realm + entity + order ids + content
  hashes), so a request retried after a lost response is answered by QuickBooks from its
  idempotency cache instead of creating twice.

An order changed in PocketAdvantage after it was created is reported, not re-sent (QuickBooks
documents may have been edited, emailed or paid by then).
"""

from __future__ import annotations

import hashlib
import json
import logging
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:  # pragma: no cover
    from qbpa_assets.lib.inventiv.db import InventivDb

log = logging.getLogger(__name__)

ENTITIES = ("Estimate", "Invoice", "SalesReceipt")
DOC_NUMBER_MAX = 21
BATCH_SIZE = 30  # QuickBooks' limit of operations per batch request
LOOKUP_CHUNK = 50  # DocNumbers per lookup query (keeps the query string short)
MAPPING_FILE = "orders.toml"

ORDER_COLUMNS = (
    "order_id",
    "order_no",
    "order_date",
    "customer_id",
    "rep_id",
    "po_number",
    "ship_date",
    "notes",
    "modified_at",
)
LINE_COLUMNS = ("order_id", "line_no", "item_id", "qty", "unit_price", "description")

# How each source column is typed in DuckDB. Values arrive as text (see _text) and are cast
# here, so SQLite's text dates and PostgreSQL's/SQL Server's date/Decimal objects end up
# identical. TRY_CAST: a malformed quantity becomes NULL and is rejected by validation with a
# reason instead of failing the whole copy.
_ORDER_CASTS = {
    "order_id": "{}",
    "order_no": "{}",
    "order_date": "TRY_CAST(TRY_CAST({} AS TIMESTAMP) AS DATE)",
    "customer_id": "{}",
    "rep_id": "{}",
    "po_number": "{}",
    "ship_date": "TRY_CAST(TRY_CAST({} AS TIMESTAMP) AS DATE)",
    "notes": "{}",
    "modified_at": "TRY_CAST({} AS TIMESTAMP)",
}
_LINE_CASTS = {
    "order_id": "{}",
    "line_no": "TRY_CAST(TRY_CAST({} AS DOUBLE) AS INTEGER)",
    "item_id": "{}",
    "qty": "TRY_CAST({} AS DECIMAL(18,4))",
    "unit_price": "TRY_CAST({} AS DECIMAL(18,4))",
    "description": "{}",
}

_DDL = """
CREATE SCHEMA IF NOT EXISTS inventiv_db;
CREATE TABLE IF NOT EXISTS inventiv_db.orders (
    order_id VARCHAR, order_no VARCHAR, order_date DATE, customer_id VARCHAR, rep_id VARCHAR,
    po_number VARCHAR, ship_date DATE, notes VARCHAR, modified_at TIMESTAMP,
    copied_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS inventiv_db.order_lines (
    order_id VARCHAR, line_no INTEGER, item_id VARCHAR, qty DECIMAL(18,4),
    unit_price DECIMAL(18,4), description VARCHAR, order_date DATE
);
"""

_LEDGER_DDL = """
CREATE SCHEMA IF NOT EXISTS quickbooks;
CREATE TABLE IF NOT EXISTS quickbooks.sales_orders (
    order_id VARCHAR PRIMARY KEY, order_no VARCHAR, order_date DATE, doc_number VARCHAR,
    qbo_entity VARCHAR, qbo_id VARCHAR, status VARCHAR, reasons VARCHAR[],
    request_id VARCHAR, source_modified_at TIMESTAMP, order_hash VARCHAR,
    first_seen_at TIMESTAMP, updated_at TIMESTAMP
);
"""

LEDGER_COLUMNS = (
    "order_id",
    "order_no",
    "order_date",
    "doc_number",
    "qbo_entity",
    "qbo_id",
    "status",
    "reasons",
    "request_id",
    "source_modified_at",
    "order_hash",
)


class OrderMappingError(ValueError):
    """The order mapping file is invalid (names the file, the section and the field)."""


# ---------------------------------------------------------------------------------------------
# value normalization (shared with inventiv_db)


def to_date(value: Any) -> date | None:
    """Normalize a date from any driver (date, datetime, ISO text) or None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(str(value).strip()).date()
    except ValueError:
        return None


def to_datetime(value: Any) -> datetime | None:
    """Normalize a timestamp from any driver (datetime, date, ISO text) to a naive datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    else:
        try:
            result = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    if result.tzinfo is not None:
        result = result.astimezone(UTC).replace(tzinfo=None)
    return result


def _text(value: Any) -> str | None:
    """One source value as text for the typed cast in DuckDB (None stays None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        # SQLite may hand back 12.0 for an integer id: keep ids comparable to QuickBooks Ids.
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


# ---------------------------------------------------------------------------------------------
# mapping


@dataclass(frozen=True)
class OrderMapping:
    """The order mapping: source SQL for the Inventiv DB and the QuickBooks field mapping.

    ``header``/``line`` map a dotted QuickBooks field path (``CustomerRef.value``) to a DuckDB
    SQL expression over the staged order ``o`` (and, for lines, the line ``l``).
    """

    path: str
    orders_sql: str
    lines_sql: str
    new_orders_sql: str
    entity: str
    header: dict[str, str]
    line: dict[str, str]


def load_order_mapping(
    source: Path | str | None = None, overrides_dir: Path | str | None = None
) -> OrderMapping:
    """Load the order mapping.

    Args:
        source: A mapping file to load. Wins over everything else.
        overrides_dir: A folder (``QBPA_MAPPINGS_DIR``); its ``orders.toml`` replaces the
            packaged default when present.

    Returns:
        The parsed mapping.

    Raises:
        OrderMappingError: Unreadable TOML, missing sections/keys, unknown entity.
    """
    if source is not None:
        path = Path(source)
        text = path.read_text(encoding="utf-8")
    elif overrides_dir is not None and (Path(overrides_dir) / MAPPING_FILE).is_file():
        path = Path(overrides_dir) / MAPPING_FILE
        text = path.read_text(encoding="utf-8")
    else:
        res = resources.files("qbpa_assets") / "mappings" / MAPPING_FILE
        path = Path(str(res))
        text = res.read_text(encoding="utf-8")
    name = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OrderMappingError(f"{name}: not valid TOML: {exc}") from None
    unknown = set(data) - {"source", "target", "header", "line"}
    if unknown:
        raise OrderMappingError(f"{name}: unknown section(s) {sorted(unknown)}")
    src = data.get("source", {})
    for key in ("orders_sql", "lines_sql", "new_orders_sql"):
        if not isinstance(src.get(key), str) or not src[key].strip():
            raise OrderMappingError(f"{name}: [source] {key} is missing")
    entity = data.get("target", {}).get("entity", "Estimate")
    if entity not in ENTITIES:
        raise OrderMappingError(f"{name}: [target] entity {entity!r} is not one of {ENTITIES}")
    for section in ("header", "line"):
        fields = data.get(section)
        if not isinstance(fields, dict) or not fields:
            raise OrderMappingError(f"{name}: [{section}] has no fields")
        for key, expr in fields.items():
            if not isinstance(expr, str) or not expr.strip():
                raise OrderMappingError(
                    f"{name}: [{section}] {key}: the value must be a SQL expression (text)"
                )
    return OrderMapping(
        path=name,
        orders_sql=src["orders_sql"],
        lines_sql=src["lines_sql"],
        new_orders_sql=src["new_orders_sql"],
        entity=entity,
        header=dict(data["header"]),
        line=dict(data["line"]),
    )


def _resolve_mapping(mapping: OrderMapping | Path | str | None) -> OrderMapping:
    if isinstance(mapping, OrderMapping):
        return mapping
    return load_order_mapping(mapping)


_HEADER_FROM = "inventiv_db.orders o"
_LINE_FROM = "inventiv_db.order_lines l JOIN inventiv_db.orders o ON o.order_id = l.order_id"


def validate_mapping(con: duckdb.DuckDBPyConnection, mapping: OrderMapping) -> None:
    """Compile every mapping expression against the staged tables (nothing is sent).

    Raises:
        OrderMappingError: Names the file, section and field of the first bad expression
            (unknown column, SQL error).
    """
    ensure_tables(con)
    for section, fields, from_ in (
        ("header", mapping.header, _HEADER_FROM),
        ("line", mapping.line, _LINE_FROM),
    ):
        for key, expr in fields.items():
            try:
                con.execute(f"SELECT ({expr}) FROM {from_} LIMIT 0")
            except duckdb.Error as exc:
                raise OrderMappingError(
                    f"{mapping.path}: [{section}] {key} = {expr!r}: {exc}"
                ) from None


# ---------------------------------------------------------------------------------------------
# copy: Inventiv DB → DuckDB


@dataclass(frozen=True)
class CopyResult:
    """Rows copied for one window."""

    orders: int
    lines: int


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``inventiv_db.orders`` and ``inventiv_db.order_lines`` if missing."""
    con.execute(_DDL)


def _insert_columns(
    con: duckdb.DuckDBPyConnection,
    table: str,
    casts: dict[str, str],
    names: list[str],
    rows: list[tuple],
    source: str,
    extra_select: str = "",
    extra_from: str = "",
    params: Sequence[Any] = (),
) -> int:
    """Bulk insert rows: one parameter per column (a text list), cast in SQL, unnested."""
    idx = {n: i for i, n in enumerate(names)}
    missing = [c for c in casts if c not in idx]
    if missing:
        raise OrderMappingError(
            f"{source} must return column(s) {', '.join(missing)} "
            f"(got {', '.join(names)}); alias them with AS"
        )
    if not rows:
        return 0
    cols = list(casts)
    lists = [[_text(r[idx[c]]) for r in rows] for c in cols]
    inner = ", ".join(f"unnest(?::VARCHAR[]) AS {c}" for c in cols)
    typed = ", ".join(casts[c].format(f"s.{c}") for c in cols)
    # Parameters in text order: the column lists (inner SELECT), then those of extra_from.
    con.execute(
        f"INSERT INTO {table} SELECT {typed}{extra_select} FROM (SELECT {inner}) s {extra_from}",
        [*lists, *params],
    )
    return len(rows)


def copy_orders(
    db: InventivDb, con: duckdb.DuckDBPyConnection, start: date, end: date
) -> CopyResult:
    """Copy the orders of ``[start, end)`` (ORDER_DATE) and their lines into DuckDB.

    Delete-then-insert the window in one DuckDB transaction, so a re-run replaces exactly it.

    Args:
        db: The Inventiv database (its mapping provides the SQL).
        con: DuckDB connection.
        start: First day (inclusive).
        end: Last day (exclusive).

    Returns:
        CopyResult with the number of orders and lines copied.
    """
    mapping = db.mapping
    ensure_tables(con)
    now = datetime.now(UTC).replace(tzinfo=None)
    n_orders = n_lines = 0
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "DELETE FROM inventiv_db.order_lines WHERE order_date >= ? AND order_date < ?",
            [start, end],
        )
        con.execute(
            "DELETE FROM inventiv_db.orders WHERE order_date >= ? AND order_date < ?",
            [start, end],
        )
        for names, rows in db.iter_chunks(mapping.orders_sql, [start, end]):
            n_orders += _insert_columns(
                con,
                "inventiv_db.orders",
                _ORDER_CASTS,
                names,
                rows,
                f"{mapping.path}: [source] orders_sql",
                extra_select=f", TIMESTAMP '{now}'",
            )
        # Lines take their order's date (the partition column) and are kept only when their
        # order is in the window, so both tables always describe the same orders.
        for names, rows in db.iter_chunks(mapping.lines_sql, [start, end]):
            n_lines += _insert_columns(
                con,
                "inventiv_db.order_lines",
                _LINE_CASTS,
                names,
                rows,
                f"{mapping.path}: [source] lines_sql",
                extra_select=", o.order_date",
                extra_from="JOIN inventiv_db.orders o ON o.order_id = s.order_id "
                "AND o.order_date >= ? AND o.order_date < ?",
                params=[start, end],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    log.info("copied %d orders, %d lines for [%s, %s)", n_orders, n_lines, start, end)
    return CopyResult(orders=n_orders, lines=n_lines)


# ---------------------------------------------------------------------------------------------
# validation


def _num_text(column: str) -> str:
    """SQL showing a DECIMAL as people write it: 0, 2.5, -1 (not 0.0000)."""
    return (
        f"CASE WHEN {column} = trunc({column}) THEN trunc({column})::BIGINT::VARCHAR "
        f"ELSE rtrim({column}::VARCHAR, '0') END"
    )


_VALIDATION_SQL = f"""
WITH o AS (
    SELECT * FROM inventiv_db.orders WHERE order_date >= $start AND order_date < $end
), l AS (
    SELECT l.* FROM inventiv_db.order_lines l JOIN o ON o.order_id = l.order_id
), r AS (
    SELECT o.order_id, 10 AS k, 0 AS n,
           'order number is empty' AS reason
      FROM o WHERE coalesce(trim(o.order_no), '') = ''
    UNION ALL
    SELECT o.order_id, 11, 0,
           'order number ' || o.order_no || ' is ' || length(o.order_no)
           || ' characters; QuickBooks DocNumber allows at most {DOC_NUMBER_MAX}'
      FROM o WHERE length(o.order_no) > {DOC_NUMBER_MAX}
    UNION ALL
    SELECT o.order_id, 20, 0,
           CASE WHEN o.customer_id IS NULL THEN 'no customer'
                ELSE 'customer ' || o.customer_id || ' does not exist in QuickBooks' END
      FROM o LEFT JOIN staging.customers c ON c.id = o.customer_id WHERE c.id IS NULL
    UNION ALL
    SELECT o.order_id, 21, 0,
           'customer ' || o.customer_id || ' (' || coalesce(c.display_name, '?')
           || ') is inactive in QuickBooks'
      FROM o JOIN staging.customers c ON c.id = o.customer_id WHERE NOT coalesce(c.active, false)
    UNION ALL
    SELECT o.order_id, 30, 0, 'order has no lines'
      FROM o WHERE NOT EXISTS (SELECT 1 FROM l WHERE l.order_id = o.order_id)
    UNION ALL
    SELECT l.order_id, 40, coalesce(l.line_no, 0),
           'line ' || coalesce(l.line_no::VARCHAR, '?') || ': '
           || CASE WHEN l.item_id IS NULL THEN 'no item'
                   ELSE 'item ' || l.item_id || ' does not exist in QuickBooks' END
      FROM l LEFT JOIN staging.items i ON i.id = l.item_id WHERE i.id IS NULL
    UNION ALL
    SELECT l.order_id, 41, coalesce(l.line_no, 0),
           'line ' || coalesce(l.line_no::VARCHAR, '?') || ': item ' || l.item_id || ' ('
           || coalesce(i.name, '?') || ') is inactive in QuickBooks'
      FROM l JOIN staging.items i ON i.id = l.item_id WHERE NOT coalesce(i.active, false)
    UNION ALL
    SELECT l.order_id, 42, coalesce(l.line_no, 0),
           'line ' || coalesce(l.line_no::VARCHAR, '?') || ': quantity '
           || coalesce({_num_text("l.qty")}, 'missing') || ' must be greater than 0'
      FROM l WHERE l.qty IS NULL OR l.qty <= 0
    UNION ALL
    SELECT l.order_id, 43, coalesce(l.line_no, 0),
           'line ' || coalesce(l.line_no::VARCHAR, '?') || ': price '
           || coalesce({_num_text("l.unit_price")}, 'missing') || ' must not be negative'
      FROM l WHERE l.unit_price IS NULL OR l.unit_price < 0
)
SELECT order_id, list(reason ORDER BY k, n, reason) AS reasons
FROM r GROUP BY order_id
"""


def validate_orders(con: duckdb.DuckDBPyConnection, start: date, end: date) -> dict[str, list[str]]:
    """Every reason each order of the window cannot be sent (valid orders are absent).

    Returns:
        order_id → reasons, in a stable order (header reasons first, then by line).
    """
    rows = con.execute(_VALIDATION_SQL, {"start": start, "end": end}).fetchall()
    return {order_id: list(reasons) for order_id, reasons in rows}


# ---------------------------------------------------------------------------------------------
# mapping orders to QuickBooks payloads


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _assign(target: dict, dotted: str, value: Any) -> None:
    if value is None:
        return
    parts = dotted.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = _json_value(value)


def build_payloads(
    con: duckdb.DuckDBPyConnection, mapping: OrderMapping, order_ids: Sequence[str]
) -> dict[str, dict]:
    """Map orders to QuickBooks entity payloads with the mapping's SQL expressions.

    Returns:
        order_id → payload (header fields plus ``Line``).
    """
    if not order_ids:
        return {}
    hkeys = list(mapping.header)
    hexprs = ", ".join(f"({mapping.header[k]})" for k in hkeys)
    payloads: dict[str, dict] = {}
    rows = con.execute(
        f"SELECT o.order_id, {hexprs} FROM {_HEADER_FROM} "
        "WHERE o.order_id IN (SELECT unnest(?::VARCHAR[]))",
        [list(order_ids)],
    ).fetchall()
    for row in rows:
        payload: dict = {}
        for key, value in zip(hkeys, row[1:], strict=True):
            _assign(payload, key, value)
        payload["Line"] = []
        payloads[row[0]] = payload
    lkeys = list(mapping.line)
    lexprs = ", ".join(f"({mapping.line[k]})" for k in lkeys)
    rows = con.execute(
        f"SELECT l.order_id, {lexprs} FROM {_LINE_FROM} "
        "WHERE l.order_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY l.order_id, l.line_no",
        [list(order_ids)],
    ).fetchall()
    for row in rows:
        line: dict = {}
        for key, value in zip(lkeys, row[1:], strict=True):
            _assign(line, key, value)
        payloads[row[0]]["Line"].append(line)
    return payloads


# ---------------------------------------------------------------------------------------------
# ledger


@dataclass
class LedgerRow:
    """One order's state in ``quickbooks.sales_orders``."""

    order_id: str
    order_no: str | None
    order_date: date | None
    doc_number: str | None
    qbo_entity: str
    qbo_id: str | None
    status: str  # 'created' | 'adopted' | 'rejected'
    reasons: list[str]
    request_id: str | None
    source_modified_at: datetime | None
    order_hash: str | None


@dataclass(frozen=True)
class ChangedOrder:
    """An order modified in PocketAdvantage after its QuickBooks document was created."""

    order_id: str
    order_no: str | None
    doc_number: str | None
    qbo_entity: str
    qbo_id: str | None
    created_from_modified_at: datetime | None
    current_modified_at: datetime | None
    content_changed: bool


@dataclass
class ImportResult:
    """What :func:`import_orders` did for one window."""

    created: list[LedgerRow] = field(default_factory=list)
    adopted: list[LedgerRow] = field(default_factory=list)
    rejected: list[LedgerRow] = field(default_factory=list)
    unchanged_skipped: int = 0
    changed_after_create: list[ChangedOrder] = field(default_factory=list)
    api_calls: int = 0
    batches: int = 0

    def counts(self) -> dict[str, int]:
        """Counts for metadata and logs."""
        return {
            "created": len(self.created),
            "adopted": len(self.adopted),
            "rejected": len(self.rejected),
            "unchanged_skipped": self.unchanged_skipped,
            "changed_after_create": len(self.changed_after_create),
            "api_calls": self.api_calls,
            "batches": self.batches,
        }


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ledger table ``quickbooks.sales_orders`` if missing."""
    con.execute(_LEDGER_DDL)


def write_ledger(con: duckdb.DuckDBPyConnection, rows: Sequence[LedgerRow]) -> None:
    """Upsert ledger rows by order_id in one statement (first_seen_at is kept)."""
    if not rows:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    cols = [c for c in LEDGER_COLUMNS if c != "reasons"]
    lists = [[_text(getattr(r, c)) for r in rows] for c in cols]
    types = {
        "order_date": "DATE",
        "source_modified_at": "TIMESTAMP",
    }
    select = ", ".join(f"unnest(?::VARCHAR[])::{types.get(c, 'VARCHAR')} AS {c}" for c in cols)
    updates = ", ".join(
        f"{c} = excluded.{c}" for c in (*LEDGER_COLUMNS, "updated_at") if c != "order_id"
    )
    con.execute(
        f"""INSERT INTO quickbooks.sales_orders
            ({", ".join(cols)}, reasons, first_seen_at, updated_at)
            SELECT {select}, unnest(?::VARCHAR[][]) AS reasons,
                   ?::TIMESTAMP AS first_seen_at, ?::TIMESTAMP AS updated_at
            ON CONFLICT (order_id) DO UPDATE SET {updates}""",
        [*lists, [list(r.reasons) for r in rows], now, now],
    )


def read_ledger(con: duckdb.DuckDBPyConnection, order_ids: Iterable[str]) -> dict[str, LedgerRow]:
    """Ledger rows for these order ids."""
    ids = list(order_ids)
    if not ids:
        return {}
    rows = con.execute(
        f"SELECT {', '.join(LEDGER_COLUMNS)} FROM quickbooks.sales_orders "
        "WHERE order_id IN (SELECT unnest(?::VARCHAR[]))",
        [ids],
    ).fetchall()
    out = {}
    for row in rows:
        values = dict(zip(LEDGER_COLUMNS, row, strict=True))
        values["reasons"] = list(values["reasons"] or [])
        out[row[0]] = LedgerRow(**values)
    return out


# ---------------------------------------------------------------------------------------------
# the import engine


_WINDOW_SQL = """
WITH lh AS (
    SELECT order_id,
           to_json(list({'n': line_no, 'i': item_id, 'q': qty, 'p': unit_price,
                         'd': description} ORDER BY line_no, item_id))::VARCHAR AS lj
    FROM inventiv_db.order_lines WHERE order_date >= $start AND order_date < $end
    GROUP BY order_id
)
SELECT o.order_id, o.order_no, o.order_date, o.customer_id, o.modified_at,
       md5(to_json({'no': o.order_no, 'date': o.order_date, 'c': o.customer_id,
                    'r': o.rep_id, 'po': o.po_number, 's': o.ship_date,
                    'n': o.notes})::VARCHAR || coalesce(lh.lj, '[]')) AS order_hash
FROM inventiv_db.orders o LEFT JOIN lh ON lh.order_id = o.order_id
WHERE o.order_date >= $start AND o.order_date < $end
"""


@dataclass
class _Order:
    order_id: str
    order_no: str | None
    order_date: date
    customer_id: str | None
    modified_at: datetime | None
    order_hash: str
    doc_number: str | None = None  # the mapped DocNumber (None: QuickBooks numbers it)


def order_sort_key(order_id: str) -> tuple[int, int, str]:
    """Numeric ids numerically, then the rest as text: stable batch composition."""
    return (0, int(order_id), "") if order_id.isdigit() else (1, 0, order_id)


def batch_request_id(realm_id: str, entity: str, orders: Sequence[tuple[str, str]]) -> str:
    """Deterministic ``requestid`` for a batch (≤ 36 chars).

    Args:
        realm_id: The QuickBooks company.
        entity: Target entity.
        orders: ``(order_id, order_hash)`` of the batch's orders.

    Returns:
        ``qbpa-`` + 31 hex characters of SHA-256 over realm, entity and the sorted orders.
    """
    h = hashlib.sha256(f"{realm_id}\n{entity}".encode())
    for order_id, order_hash in sorted(orders, key=lambda o: order_sort_key(o[0])):
        h.update(f"\n{order_id}\t{order_hash}".encode())
    return "qbpa-" + h.hexdigest()[:31]


def item_batch_id(order_id: str) -> str:
    """Deterministic ``bId`` of an order inside a batch."""
    return "o" + hashlib.sha1(order_id.encode()).hexdigest()[:16]  # noqa: S324 - not security


def _qbo_quote(value: str) -> str:
    """A string literal for the QuickBooks query language (backslash escapes a quote)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _client_calls(client: Any) -> int:
    stats = dict(getattr(client, "stats", {}) or {})
    if "requests" in stats:
        return int(stats["requests"])
    return int(sum(v for k, v in stats.items() if k in ("query", "batch", "create", "read")))


def _fault_text(fault: dict) -> tuple[str, str]:
    """(code, message) of a per-item Fault."""
    errors = fault.get("Error") or [{}]
    err = errors[0] if isinstance(errors, list) else errors
    code = str(err.get("code", ""))
    message = str(err.get("Message", "")).strip()
    detail = str(err.get("Detail", "")).strip()
    text = message if not detail or detail == message else f"{message}: {detail}"
    return code, text or json.dumps(fault)[:300]


def lookup_doc_numbers(
    client: Any, entity: str, doc_numbers: Iterable[str]
) -> dict[str, list[dict]]:
    """Find existing documents of ``entity`` by DocNumber, in chunks.

    Returns:
        DocNumber → the documents QuickBooks returned (normally one).
    """
    found: dict[str, list[dict]] = {}
    unique = sorted({d for d in doc_numbers if d})
    for i in range(0, len(unique), LOOKUP_CHUNK):
        chunk = unique[i : i + LOOKUP_CHUNK]
        statement = (
            f"select * from {entity} where DocNumber in "
            f"({', '.join(_qbo_quote(d) for d in chunk)}) MAXRESULTS 1000"
        )
        response = client.query(statement)
        for doc in response.get(entity, []) or []:
            found.setdefault(str(doc.get("DocNumber")), []).append(doc)
    return found


def _adopt_or_conflict(
    order: _Order, docs: list[dict], entity: str
) -> tuple[dict | None, str | None]:
    """Pick the document an earlier run created for this order, or explain the conflict."""
    mine = [
        d for d in docs if str((d.get("CustomerRef") or {}).get("value")) == str(order.customer_id)
    ]
    if mine:
        return sorted(mine, key=lambda d: order_sort_key(str(d.get("Id"))))[0], None
    other = docs[0]
    return None, (
        f"DocNumber {order.doc_number} is already used in QuickBooks by {entity} "
        f"{other.get('Id')} for another customer "
        f"({(other.get('CustomerRef') or {}).get('value')})"
    )


def import_orders(
    con: duckdb.DuckDBPyConnection,
    client: Any,
    start: date,
    end: date,
    *,
    entity: str = "Estimate",
    mapping: OrderMapping | Path | str | None = None,
    logger: Any = None,
    after_batch: Callable[[int, list[dict]], None] | None = None,
) -> ImportResult:
    """Create the window's valid orders in QuickBooks, exactly once, and keep the ledger.

    Args:
        con: DuckDB with ``inventiv_db.orders``/``order_lines`` (from :func:`copy_orders`),
            ``staging.customers`` and ``staging.items``.
        client: A ``QboClient`` (``query``, ``batch``, ``stats``, ``settings.realm_id``).
        start: First day of the window (inclusive).
        end: Last day (exclusive).
        entity: ``Estimate`` (default), ``Invoice`` or ``SalesReceipt``.
        mapping: An OrderMapping, a mapping file path, or None for the packaged default.
        logger: Logger to report progress to (e.g. ``context.log``); module logger if None.
        after_batch: Called as ``after_batch(batch_index, responses)`` right after QuickBooks
            accepted a batch and before its ledger rows are written (crash tests).

    Returns:
        ImportResult.

    Raises:
        OrderMappingError: The mapping is invalid (raised before any request).
        ValueError: Unknown entity.
    """
    logger = logger or log
    if entity not in ENTITIES:
        raise ValueError(f"sales order entity {entity!r} is not one of {', '.join(ENTITIES)}")
    mapping = _resolve_mapping(mapping)
    ensure_tables(con)
    ensure_ledger(con)
    validate_mapping(con, mapping)
    calls_before = _client_calls(client)
    realm_id = str(getattr(getattr(client, "settings", None), "realm_id", "") or "")
    result = ImportResult()

    orders = {
        r[0]: _Order(*r) for r in con.execute(_WINDOW_SQL, {"start": start, "end": end}).fetchall()
    }
    ledger = read_ledger(con, orders)
    reasons = validate_orders(con, start, end)

    pending: list[_Order] = []
    rejected_rows: list[LedgerRow] = []
    for order_id in sorted(orders, key=order_sort_key):
        order = orders[order_id]
        done = ledger.get(order_id)
        if done is not None and done.status in ("created", "adopted"):
            content_changed = done.order_hash != order.order_hash
            moved = (
                order.modified_at is not None
                and done.source_modified_at is not None
                and order.modified_at > done.source_modified_at
            )
            if content_changed or moved:
                result.changed_after_create.append(
                    ChangedOrder(
                        order_id,
                        order.order_no,
                        done.doc_number,
                        done.qbo_entity,
                        done.qbo_id,
                        done.source_modified_at,
                        order.modified_at,
                        content_changed,
                    )
                )
            else:
                result.unchanged_skipped += 1
            continue
        if order_id in reasons:
            rejected_rows.append(_row(order, entity, "rejected", reasons[order_id]))
        else:
            pending.append(order)
    # Rejects are written first: they stay visible even if the run dies while sending.
    write_ledger(con, rejected_rows)
    result.rejected.extend(rejected_rows)
    for change in result.changed_after_create:
        logger.warning(
            "order %s (%s) changed in Inventiv after %s %s was created: not re-sent",
            change.order_id,
            change.order_no,
            change.qbo_entity,
            change.qbo_id,
        )

    payloads = build_payloads(con, mapping, [o.order_id for o in pending])
    checked: list[_Order] = []
    too_long: list[LedgerRow] = []
    for order in pending:
        payload = payloads[order.order_id]
        doc_number = payload.get("DocNumber")
        order.doc_number = None if doc_number is None else str(doc_number)
        # Adoption compares the customer QuickBooks got, which the mapping may derive.
        order.customer_id = str((payload.get("CustomerRef") or {}).get("value", order.customer_id))
        if order.doc_number is not None and len(order.doc_number) > DOC_NUMBER_MAX:
            row = _row(
                order,
                entity,
                "rejected",
                [
                    f"mapped DocNumber {order.doc_number} is {len(order.doc_number)} characters; "
                    f"QuickBooks allows at most {DOC_NUMBER_MAX}"
                ],
            )
            result.rejected.append(row)
            too_long.append(row)
            continue
        checked.append(order)
    write_ledger(con, too_long)

    # An earlier run may have been accepted by QuickBooks and died before its ledger write:
    # find its documents by DocNumber and adopt them instead of creating them again. (Without
    # a mapped DocNumber QuickBooks numbers documents itself; then only the requestid guards.)
    existing = lookup_doc_numbers(client, entity, [o.doc_number for o in checked if o.doc_number])
    to_create: list[_Order] = []
    lookup_rows: list[LedgerRow] = []
    for order in checked:
        docs = existing.get(order.doc_number or "")
        if not docs:
            to_create.append(order)
            continue
        doc, conflict = _adopt_or_conflict(order, docs, entity)
        if doc is not None:
            row = _row(order, entity, "adopted", [], doc=doc)
            result.adopted.append(row)
        else:
            row = _row(order, entity, "rejected", [conflict or "DocNumber conflict"])
            result.rejected.append(row)
        lookup_rows.append(row)
    write_ledger(con, lookup_rows)
    if result.adopted:
        logger.info("adopted %d order(s) an earlier run created", len(result.adopted))

    for index, chunk_start in enumerate(range(0, len(to_create), BATCH_SIZE)):
        chunk = to_create[chunk_start : chunk_start + BATCH_SIZE]
        request_id = batch_request_id(realm_id, entity, [(o.order_id, o.order_hash) for o in chunk])
        by_bid = {item_batch_id(o.order_id): o for o in chunk}
        items = [
            {"bId": bid, "operation": "create", entity: payloads[o.order_id]}
            for bid, o in by_bid.items()
        ]
        responses = client.batch(items, request_id)
        result.batches += 1
        if after_batch is not None:
            after_batch(index, responses)
        rows = _batch_rows(client, entity, by_bid, responses, request_id, result)
        write_ledger(con, rows)
        logger.info(
            "batch %d: %d order(s) sent as %s (requestid %s)",
            index + 1,
            len(chunk),
            entity,
            request_id,
        )

    result.api_calls = _client_calls(client) - calls_before
    logger.info("order import [%s, %s): %s", start, end, result.counts())
    return result


def _row(
    order: _Order,
    entity: str,
    status: str,
    reasons: list[str],
    *,
    doc: dict | None = None,
    request_id: str | None = None,
) -> LedgerRow:
    return LedgerRow(
        order_id=order.order_id,
        order_no=order.order_no,
        order_date=order.order_date,
        doc_number=(doc or {}).get("DocNumber") if doc else None,
        qbo_entity=entity,
        qbo_id=str(doc["Id"]) if doc and doc.get("Id") is not None else None,
        status=status,
        reasons=list(reasons),
        request_id=request_id,
        source_modified_at=order.modified_at,
        order_hash=order.order_hash,
    )


def _batch_rows(
    client: Any,
    entity: str,
    by_bid: dict[str, _Order],
    responses: list[dict],
    request_id: str,
    result: ImportResult,
) -> list[LedgerRow]:
    """Turn one batch's responses into ledger rows (6140 duplicates adopted by lookup)."""
    rows: list[LedgerRow] = []
    seen: set[str] = set()
    duplicates: list[_Order] = []
    for response in responses:
        order = by_bid.get(str(response.get("bId")))
        if order is None:
            continue
        seen.add(order.order_id)
        doc = response.get(entity)
        if isinstance(doc, dict) and doc.get("Id") is not None:
            row = _row(order, entity, "created", [], doc=doc, request_id=request_id)
            result.created.append(row)
            rows.append(row)
            continue
        code, text = _fault_text(response.get("Fault") or {})
        if code == "6140":
            duplicates.append(order)
            continue
        row = _row(
            order,
            entity,
            "rejected",
            [f"QuickBooks refused it ({code}): {text}"],
            request_id=request_id,
        )
        result.rejected.append(row)
        rows.append(row)
    for order in by_bid.values():
        if order.order_id not in seen:
            row = _row(
                order,
                entity,
                "rejected",
                ["QuickBooks returned no response for this order"],
                request_id=request_id,
            )
            result.rejected.append(row)
            rows.append(row)
    if duplicates:
        found = lookup_doc_numbers(client, entity, [o.doc_number or "" for o in duplicates])
        for order in duplicates:
            docs = found.get(order.doc_number or "")
            doc, conflict = _adopt_or_conflict(order, docs, entity) if docs else (None, None)
            if doc is not None:
                row = _row(order, entity, "adopted", [], doc=doc, request_id=request_id)
                result.adopted.append(row)
            else:
                row = _row(
                    order,
                    entity,
                    "rejected",
                    [
                        conflict
                        or f"QuickBooks reports DocNumber {order.doc_number} as a "
                        "duplicate but the look-up did not find it"
                    ],
                    request_id=request_id,
                )
                result.rejected.append(row)
            rows.append(row)
    return rows


def rejects_markdown(result: ImportResult) -> str:
    """A Markdown table of the rejected orders and every reason (for run metadata)."""
    if not result.rejected:
        return "No rejected orders."
    lines = ["| order id | order no | reasons |", "|---|---|---|"]
    for row in result.rejected:
        reasons = "; ".join(row.reasons)
        cells = [row.order_id, row.order_no or "", reasons]
        cells = [str(c).replace("|", "\\|").replace("\n", " ") for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
