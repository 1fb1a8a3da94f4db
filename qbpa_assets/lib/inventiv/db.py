"""The Inventiv (PocketAdvantage) database over ODBC: a generic client, no business rules.

Every Inventiv install runs on a different database (SQL Server, PostgreSQL, SQLite, ...), so
this module speaks plain ODBC through pyodbc: connect (with retries of transient errors), login
and query timeouts, parameterized statements only (values never become SQL), chunked fetches.
What to read and what it means (the order mapping, the new-order query) lives in
``qbpa_assets.lib.orders``.

The password is kept apart from the connection string (``INVENTIV_DB_PASSWORD``): it is appended
as ``PWD={...}`` only at connect time, and every message this module produces shows the
connection string with ``PWD``/``Password`` masked and the password itself scrubbed.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any

import pyodbc

from qbpa_assets.lib import retry
from qbpa_assets.lib.redact import Redactor, mask_connection_string

log = logging.getLogger(__name__)

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
        connect_retries: Attempts on transient connection errors (with backoff).
    """

    def __init__(
        self,
        connection_string: str,
        password: str | None = None,
        timeout: int = 30,
        connect_retries: int = 4,
    ) -> None:
        if not connection_string or not connection_string.strip():
            raise InventivDbError(
                "no Inventiv database connection string: set INVENTIV_DB_CONNECTION"
            )
        self._connection_string = connection_string.strip().rstrip(";")
        self._password = password or None
        self.timeout = int(timeout)
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
        return Redactor([self._password])(text)

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
        policy = retry.Backoff(attempts=self.connect_retries, base=1.0, jitter=0.5)

        def transient(exc: BaseException) -> retry.Backoff | None:
            if not isinstance(exc, pyodbc.Error) or _AUTH_FAILURE_RE.search(str(exc)):
                return None
            return policy if _sqlstate(exc) in _TRANSIENT_SQLSTATES else None

        def on_retry(failure: retry.Failure) -> None:
            log.warning(
                "Inventiv database connect failed (%s), attempt %d/%d, retrying in %.1fs",
                _sqlstate(failure.error),
                failure.tries,
                self.connect_retries,
                failure.delay,
            )

        def on_give_up(failure: retry.Failure) -> BaseException | None:
            if not isinstance(failure.error, pyodbc.Error):
                return None
            # Raised ``from None``: the original exception's args may echo the connection
            # string with the password on some drivers.
            return self._error(
                f"cannot connect to the Inventiv database after {failure.tries} attempt(s)",
                failure.error,
            )

        conn = retry.call(
            lambda: pyodbc.connect(full, timeout=self.timeout, autocommit=True),
            transient,
            on_retry=on_retry,
            on_give_up=on_give_up,
        )
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

    @contextlib.contextmanager
    def _cursor(self, sql: str, params: Sequence[Any], kind: str) -> Iterator[pyodbc.Cursor]:
        """Execute ``sql`` and yield its cursor, closed after; a driver error names the SQL.

        Args:
            sql: The statement (values only as ``?`` parameters).
            params: Its parameter values.
            kind: ``"query"`` or ``"statement"``, for the error message.

        Raises:
            InventivDbError: The statement failed (message names the statement's first line).
        """
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(sql, *params) if params else cur.execute(sql)
            yield cur
            cur.close()
        except pyodbc.Error as exc:
            head = " ".join(sql.split())[:80]
            raise self._error(f"Inventiv {kind} failed: {head}", exc) from None

    def iter_chunks(
        self, sql: str, params: Sequence[Any] = (), chunk_size: int = 5000
    ) -> Iterator[tuple[list[str], list[tuple]]]:
        """Run a parameterized query and yield ``(column names, rows)`` chunks.

        Column names are lower-cased so that the same mapping works on databases that fold
        identifiers differently (PostgreSQL lower-cases, SQL Server keeps them).

        Raises:
            InventivDbError: The statement failed (message names the statement's first line).
        """
        with self._cursor(sql, params, "query") as cur:
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

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        """Run a parameterized query and return ``(column names, all rows)``."""
        columns: list[str] = []
        out: list[tuple] = []
        for names, rows in self.iter_chunks(sql, params):
            columns = names
            out.extend(rows)
        return columns, out

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one parameterized statement that returns no rows (autocommit).

        Returns:
            The number of rows the statement affected (-1 when the driver does not say).

        Raises:
            InventivDbError: The statement failed (message names the statement's first line).
        """
        with self._cursor(sql, params, "statement") as cur:
            return cur.rowcount
