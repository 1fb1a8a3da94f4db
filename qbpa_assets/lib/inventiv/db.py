"""Access to the Inventiv (PocketAdvantage) order database over ODBC.

Every Inventiv install runs on a different database (SQL Server, PostgreSQL, SQLite, ...), so
this module speaks plain ODBC through pyodbc and takes its SQL from the order mapping file
(``mappings/orders.toml``). It only ever runs parameterized statements; values never become SQL.

The password is kept apart from the connection string (``INVENTIV_DB_PASSWORD``): it is appended
as ``PWD={...}`` only at connect time, and every message this module produces shows the
connection string with ``PWD``/``Password`` masked and the password itself scrubbed.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pyodbc

from qbpa_assets.lib.orders import OrderMapping, load_order_mapping, to_date, to_datetime

log = logging.getLogger(__name__)

# ``PWD=...`` / ``Password=...`` in an ODBC connection string, braced (``}}`` escapes ``}``) or
# bare up to the next ``;``.
_SECRET_RE = re.compile(r"(?i)\b(pwd|password)\s*=\s*(\{(?:[^}]|\}\})*\}?|[^;]*)")
# In a driver *message* the value ends at white space or a quote too: `[^;]*` would swallow the
# rest of the message (the part that says what went wrong) when PWD comes last.
_MESSAGE_SECRET_RE = re.compile(r"(?i)\b(pwd|password)\s*=\s*(\{(?:[^}]|\}\})*\}?|[^;\s'\"\)\]]*)")

# SQLSTATE classes worth retrying at connect time: connection exceptions (08xxx, except 08004
# "server rejected the connection" which is usually configuration), timeouts, and the generic
# "general error" some drivers raise while the server is starting.
_TRANSIENT_SQLSTATES = ("08001", "08S01", "08007", "HYT00", "HYT01")
# Some drivers (psqlodbc) report a refused login as 08001 too: retrying cannot help there, and
# repeated bad logins may lock the account.
_AUTH_FAILURE_RE = re.compile(
    r"(?i)authentication failed|login failed|access denied|invalid password|28000|28P01"
)


class InventivDbError(Exception):
    """The Inventiv database could not be reached or queried (message free of secrets)."""


@dataclass(frozen=True)
class NewOrder:
    """One order the sensor has not seen yet.

    Attributes:
        order_id: The Inventiv ORDER_ID as the database returned it (int or str); pass it back
            unchanged as the sensor cursor.
        order_date: ORDER_DATE, which decides the daily partition.
        modified_at: MODIFIED_AT (naive timestamp, as stored).
    """

    order_id: Any
    order_date: date
    modified_at: datetime


def mask_connection_string(connection_string: str) -> str:
    """Return the connection string with any ``PWD``/``Password`` value replaced by ``***``.

    Args:
        connection_string: An ODBC connection string.

    Returns:
        The same string, safe to log.
    """
    return _SECRET_RE.sub(lambda m: f"{m.group(1)}=***", connection_string)


def odbc_brace(value: str) -> str:
    """Quote a value for an ODBC connection string: ``{...}`` with ``}`` doubled.

    Braces make ``;``, ``=`` and spaces inside a password safe.
    """
    return "{" + value.replace("}", "}}") + "}"


def _sqlstate(exc: pyodbc.Error) -> str:
    return str(exc.args[0]) if exc.args else ""


class InventivDb:
    """A connection to the Inventiv database (lazy; a context manager).

    Args:
        connection_string: ODBC connection string without the password, e.g.
            ``Driver=SQLite3;Database=/data/inventiv.db`` or
            ``Driver={PostgreSQL Unicode};Server=db;Port=5432;Database=inv;Uid=qbpa``.
        password: Appended as ``PWD={...}`` at connect time; never logged.
        timeout: Seconds for the login and for each query.
        mapping: The order mapping (source SQL); defaults to the packaged ``orders.toml``.
        connect_retries: Attempts on transient connection errors (with backoff).
    """

    def __init__(
        self,
        connection_string: str,
        password: str | None = None,
        timeout: int = 30,
        mapping: OrderMapping | None = None,
        connect_retries: int = 4,
    ) -> None:
        if not connection_string or not connection_string.strip():
            raise InventivDbError(
                "no Inventiv database connection string: set INVENTIV_DB_CONNECTION"
            )
        self._connection_string = connection_string.strip().rstrip(";")
        self._password = password or None
        self.timeout = int(timeout)
        self.mapping = mapping or load_order_mapping()
        self.connect_retries = max(1, int(connect_retries))
        self._conn: pyodbc.Connection | None = None

    # -- connection ---------------------------------------------------------------------------

    @property
    def safe_connection_string(self) -> str:
        """The connection string with secrets masked (for messages and logs)."""
        return mask_connection_string(self._connection_string)

    def __repr__(self) -> str:
        return f"InventivDb({self.safe_connection_string!r})"

    def _scrub(self, text: str) -> str:
        """Remove the password and any PWD=... from a driver message."""
        text = _MESSAGE_SECRET_RE.sub(lambda m: f"{m.group(1)}=***", text)
        if self._password:
            text = text.replace(self._password, "***")
        return text

    def _error(self, what: str, exc: BaseException) -> InventivDbError:
        return InventivDbError(f"{what} ({self.safe_connection_string}): {self._scrub(str(exc))}")

    def connect(self) -> pyodbc.Connection:
        """Open the connection if needed, retrying transient errors with backoff + jitter.

        Returns:
            The open pyodbc connection.

        Raises:
            InventivDbError: Cannot connect (after retries for transient errors).
        """
        if self._conn is not None:
            return self._conn
        full = self._connection_string
        if self._password:
            full = f"{full};PWD={odbc_brace(self._password)}"
        delay = 0.5
        for attempt in range(1, self.connect_retries + 1):
            try:
                conn = pyodbc.connect(full, timeout=self.timeout, autocommit=True)
                break
            except pyodbc.Error as exc:
                refused = _AUTH_FAILURE_RE.search(str(exc)) is not None
                transient = _sqlstate(exc) in _TRANSIENT_SQLSTATES and not refused
                if not transient or attempt == self.connect_retries:
                    # ``from None``: the original exception's args may echo the connection
                    # string with the password on some drivers.
                    raise self._error(
                        f"cannot connect to the Inventiv database after {attempt} attempt(s)",
                        exc,
                    ) from None
                wait = delay * (1 + random.random())
                log.warning(
                    "Inventiv database connect failed (%s), attempt %d/%d, retrying in %.1fs",
                    _sqlstate(exc),
                    attempt,
                    self.connect_retries,
                    wait,
                )
                time.sleep(wait)
                delay *= 2
        try:
            conn.timeout = self.timeout  # per-statement query timeout
        except pyodbc.Error:  # pragma: no cover - drivers without SQL_ATTR_QUERY_TIMEOUT
            log.debug("driver does not support a query timeout")
        self._conn = conn
        log.info("connected to the Inventiv database (%s)", self.safe_connection_string)
        return conn

    def close(self) -> None:
        """Close the connection (safe to call twice)."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def __enter__(self) -> InventivDb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries ------------------------------------------------------------------------------

    def iter_chunks(
        self, sql: str, params: Sequence[Any] = (), chunk_size: int = 5000
    ) -> Iterator[tuple[list[str], list[tuple]]]:
        """Run a parameterized query and yield ``(column names, rows)`` chunks.

        Column names are lower-cased so that the same mapping works on databases that fold
        identifiers differently (PostgreSQL lower-cases, SQL Server keeps them).

        Raises:
            InventivDbError: The statement failed (message names the statement's first line).
        """
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(sql, *params) if params else cur.execute(sql)
            names = [d[0].lower() for d in cur.description]
            first = True
            while True:
                rows = cur.fetchmany(chunk_size)
                if not rows and not first:
                    break
                first = False
                # An empty first chunk still reports the column names (mapping checks).
                yield names, [tuple(r) for r in rows]
                if not rows:
                    break
            cur.close()
        except pyodbc.Error as exc:
            head = " ".join(sql.split())[:80]
            raise self._error(f"Inventiv query failed: {head}", exc) from None

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        """Run a parameterized query and return ``(column names, all rows)``."""
        columns: list[str] = []
        out: list[tuple] = []
        for names, rows in self.iter_chunks(sql, params):
            columns = names
            out.extend(rows)
        return columns, out

    def fetch_new_orders(
        self, after_modified_at: datetime | None, after_order_id: Any = None, limit: int = 1000
    ) -> list[NewOrder]:
        """Orders whose ``(MODIFIED_AT, ORDER_ID)`` is after the cursor, oldest first.

        The database filters coarsely (``MODIFIED_AT >= cursor - 1 s``) and the exact tuple
        comparison happens here on normalized values: text timestamps (SQLite) are stored in
        whatever format the writer chose, so comparing them to a bound parameter as strings can
        silently skip rows that share the cursor's timestamp.

        Args:
            after_modified_at: The cursor's MODIFIED_AT, or None for "from the beginning".
            after_order_id: The cursor's ORDER_ID (as returned in a previous NewOrder).
            limit: Maximum orders returned.

        Returns:
            Up to ``limit`` NewOrder records ordered by (modified_at, order_id).
        """
        lower = (
            datetime(1900, 1, 1)
            if after_modified_at is None
            else after_modified_at - timedelta(seconds=1)
        )
        cursor_key = None
        if after_modified_at is not None:
            cursor_key = (after_modified_at, _id_key(after_order_id))
        out: list[NewOrder] = []
        chunks = self.iter_chunks(self.mapping.new_orders_sql, [lower], limit + 100)
        for names, rows in chunks:
            idx = {n: i for i, n in enumerate(names)}
            for col in ("order_id", "order_date", "modified_at"):
                if col not in idx:
                    raise InventivDbError(
                        f"{self.mapping.path}: [source] new_orders_sql must return a column "
                        f"named {col!r} (got {', '.join(names)})"
                    )
            for row in rows:
                mod = to_datetime(row[idx["modified_at"]])
                odate = to_date(row[idx["order_date"]])
                oid = row[idx["order_id"]]
                if mod is None or odate is None:
                    continue
                if cursor_key is not None and (mod, _id_key(oid)) <= cursor_key:
                    continue
                out.append(NewOrder(oid, odate, mod))
            if len(out) >= limit:
                chunks.close()  # enough: the statement is ordered, stop reading
                break
        # The database orders by its own types; re-sort on the normalized values.
        out.sort(key=lambda o: (o.modified_at, _id_key(o.order_id)))
        return out[:limit]


def _id_key(value: Any) -> tuple[int, Any]:
    """Sort key for order ids that may be ints or strings (ints first, numerically)."""
    if isinstance(value, bool) or value is None:
        return (2, str(value))
    if isinstance(value, int):
        return (0, value)
    text = str(value)
    if text.lstrip("-").isdigit():
        return (0, int(text))
    return (1, text)
