"""Where order status goes in the Inventiv database: the ``[status]`` SQL of the order mapping.

Every Inventiv install differs, so the statements that write status are data, read from the
``[status]`` section of ``orders.toml`` (packaged default, or the copy in ``QBPA_MAPPINGS_DIR``).
Without that section qbpa writes its own table, which it creates when missing::

    QBPA_ORDER_STATUS(ORDER_ID PRIMARY KEY, QBO_ID, QBO_DOC_NUMBER, STATUS, MESSAGE,
                      INVOICE_DOC_NUMBER, UPDATED_AT)

A row is upserted portably: ``update_sql`` first, then ``insert_sql`` when the update changed no
row, all rows of one write in one transaction (SQLite, PostgreSQL and SQL Server alike; no
dialect's ``MERGE``/``ON CONFLICT`` is needed). Statements name their values ``:order_id``,
``:qbo_id``, ``:qbo_doc_number``, ``:status``, ``:message``, ``:invoice_doc_number`` and
``:updated_at``; they become bound ``?`` parameters, never text in the SQL. The order tables are
only ever written when the user's own ``update_sql`` says so.

The same section says what a cancelled order is (``cancelled_sql``, and whether an order that
vanished from the Inventiv database counts) and what happens to its QuickBooks document
(``on_cancel``), and whether edits are applied (``apply_edits``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyodbc

from qbpa_assets.lib.orders.mapping import OrderMappingError

STATUS_FIELDS = (
    "order_id",
    "qbo_id",
    "qbo_doc_number",
    "status",
    "message",
    "invoice_doc_number",
    "updated_at",
)
ON_CANCEL = ("close", "reject", "report")
MESSAGE_MAX = 4000

DEFAULT_TABLE = "QBPA_ORDER_STATUS"
DEFAULT_EXISTS_SQL = f"SELECT COUNT(*) FROM {DEFAULT_TABLE} WHERE 1 = 0"
# SQL Server's TIMESTAMP is a row version, not a date-time: the type is the one dialect part.
_TIMESTAMP_TYPES = {"sqlserver": "DATETIME2", "default": "TIMESTAMP"}
_CREATE_TEMPLATE = (
    f"CREATE TABLE {DEFAULT_TABLE} (ORDER_ID VARCHAR(64) NOT NULL PRIMARY KEY, "
    "QBO_ID VARCHAR(32), QBO_DOC_NUMBER VARCHAR(32), STATUS VARCHAR(16) NOT NULL, "
    "MESSAGE VARCHAR(4000), INVOICE_DOC_NUMBER VARCHAR(32), UPDATED_AT {timestamp})"
)
DEFAULT_UPDATE_SQL = (
    f"UPDATE {DEFAULT_TABLE} SET QBO_ID = :qbo_id, QBO_DOC_NUMBER = :qbo_doc_number, "
    "STATUS = :status, MESSAGE = :message, INVOICE_DOC_NUMBER = :invoice_doc_number, "
    "UPDATED_AT = :updated_at WHERE ORDER_ID = :order_id"
)
DEFAULT_INSERT_SQL = (
    f"INSERT INTO {DEFAULT_TABLE} (ORDER_ID, QBO_ID, QBO_DOC_NUMBER, STATUS, MESSAGE, "
    "INVOICE_DOC_NUMBER, UPDATED_AT) VALUES (:order_id, :qbo_id, :qbo_doc_number, :status, "
    ":message, :invoice_doc_number, :updated_at)"
)

_KEYS = {
    "exists_sql",
    "create_sql",
    "update_sql",
    "insert_sql",
    "cancelled_sql",
    "vanished_is_cancelled",
    "on_cancel",
    "apply_edits",
}
# ``:name`` outside quotes; ``::`` (a PostgreSQL cast) is left alone.
_TOKEN_RE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|:([A-Za-z_]\w*)")


class StatusMappingError(OrderMappingError):
    """The ``[status]`` section is invalid (names the file and the key)."""

    def __init__(self, file: str | Path, message: str, key: str | None = None) -> None:
        super().__init__(file, message, key, "status")


class StatusWriteError(Exception):
    """Writing status rows into the Inventiv database failed (message free of secrets)."""


def bind_named(
    sql: str, path: str = "orders.toml", key: str | None = None
) -> tuple[str, list[str]]:
    """Turn ``:name`` placeholders into ``?`` and return the names in order.

    Args:
        sql: A statement with ``:order_id``-style placeholders.
        path: The mapping file the statement comes from (for messages).
        key: Its key in ``[status]``.

    Returns:
        ``(sql with ?, [names])``.

    Raises:
        StatusMappingError: A placeholder names no status field.
    """
    names: list[str] = []

    def swap(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)
        if name.lower() not in STATUS_FIELDS:
            raise StatusMappingError(
                path,
                f"unknown placeholder :{name} (allowed: "
                f"{', '.join(':' + f for f in STATUS_FIELDS)})",
                key,
            )
        names.append(name.lower())
        return "?"

    return _TOKEN_RE.sub(swap, sql), names


def dialect(conn: pyodbc.Connection) -> str:
    """``sqlite``, ``postgresql``, ``sqlserver`` or ``other``, from the driver's DBMS name."""
    try:
        name = str(conn.getinfo(pyodbc.SQL_DBMS_NAME)).lower()
    except pyodbc.Error:  # pragma: no cover - every driver we know answers
        return "other"
    if "sqlite" in name:
        return "sqlite"
    if "postgres" in name:
        return "postgresql"
    if "sql server" in name:
        return "sqlserver"
    return "other"


@dataclass(frozen=True)
class StatusTarget:
    """The status statements and the cancellation/edit policy of one mapping file.

    Attributes:
        path: The mapping file (for messages).
        exists_sql: Runs without error when the target exists (None: never create).
        create_sql: Creates the target (None: the default table for the dialect).
        update_sql: Updates one order's row.
        insert_sql: Inserts it when the update changed nothing (None: update only).
        cancelled_sql: Inventiv query, two parameters (window start, end of ORDER_DATE),
            returning ``order_id`` of cancelled orders (None: no status column).
        vanished_is_cancelled: An order that was created and no longer exists in the Inventiv
            database counts as cancelled.
        on_cancel: ``close`` / ``reject`` the open Estimate (an Invoice or SalesReceipt is
            voided), or ``report`` only.
        apply_edits: Apply edits of open documents (else they are only reported).
        default_table: Whether this is qbpa's own ``QBPA_ORDER_STATUS``.
    """

    path: str
    exists_sql: str | None
    create_sql: str | None
    update_sql: str
    insert_sql: str | None
    cancelled_sql: str | None
    vanished_is_cancelled: bool
    on_cancel: str
    apply_edits: bool
    default_table: bool

    def create_statement(self, conn: pyodbc.Connection) -> str | None:
        """The CREATE statement for this connection's dialect."""
        if self.create_sql is not None:
            return self.create_sql
        if not self.default_table:
            return None
        kind = "sqlserver" if dialect(conn) == "sqlserver" else "default"
        return _CREATE_TEMPLATE.format(timestamp=_TIMESTAMP_TYPES[kind])

    def ensure(self, conn: pyodbc.Connection) -> bool:
        """Create the target when it is missing; return True when it was created."""
        if self.exists_sql is None:
            return False
        cur = conn.cursor()
        try:
            cur.execute(self.exists_sql)
            cur.fetchall()
            return False
        except pyodbc.Error:
            statement = self.create_statement(conn)
            if statement is None:
                raise
            if not conn.autocommit:  # PostgreSQL: the failed probe aborted the transaction
                conn.rollback()
            cur.execute(statement)
            if not conn.autocommit:
                conn.commit()
            return True
        finally:
            cur.close()

    def write(self, conn: pyodbc.Connection, rows: Sequence[dict[str, Any]]) -> int:
        """Upsert status rows in one transaction; return how many were written.

        Args:
            conn: An open pyodbc connection (autocommit is switched off for the write and
                restored afterwards).
            rows: Dicts with the :data:`STATUS_FIELDS`.

        Raises:
            pyodbc.Error: The write failed; nothing of it was committed.
        """
        if not rows:
            return 0
        self.ensure(conn)
        update, update_names = bind_named(self.update_sql, self.path, "update_sql")
        insert = insert_names = None
        if self.insert_sql:
            insert, insert_names = bind_named(self.insert_sql, self.path, "insert_sql")
        previous = conn.autocommit
        conn.autocommit = False
        try:
            cur = conn.cursor()
            for row in rows:
                cur.execute(update, *[row[n] for n in update_names])
                if insert is not None and insert_names is not None and cur.rowcount == 0:
                    cur.execute(insert, *[row[n] for n in insert_names])
            conn.commit()
            cur.close()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.autocommit = previous
        return len(rows)


def _section(path: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise StatusMappingError(path, f"not valid TOML: {exc}") from None
    section = data.get("status", {})
    if not isinstance(section, dict):
        raise StatusMappingError(path, "must be a table")
    return section


def _text_key(section: dict[str, Any], path: str, key: str) -> str | None:
    value = section.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise StatusMappingError(path, "must be a SQL statement (text)", key)
    return value.strip()


def status_target(mapping_path: str | Path) -> StatusTarget:
    """Read the ``[status]`` section of an order mapping file (defaults for what is absent).

    Args:
        mapping_path: The order mapping file (``OrderMapping.path``).

    Returns:
        The status target.

    Raises:
        StatusMappingError: Unknown keys, a value of the wrong type, an unknown ``on_cancel``,
            or a placeholder that names no status field.
    """
    path = str(mapping_path)
    section = _section(path)
    unknown = sorted(set(section) - _KEYS)
    if unknown:
        raise StatusMappingError(path, f"unknown key(s) {unknown} (allowed: {sorted(_KEYS)})")
    update_sql = _text_key(section, path, "update_sql")
    default_table = update_sql is None
    on_cancel = section.get("on_cancel", "close")
    if on_cancel not in ON_CANCEL:
        raise StatusMappingError(
            path, f"{on_cancel!r} is not one of {', '.join(ON_CANCEL)}", "on_cancel"
        )
    for key in ("vanished_is_cancelled", "apply_edits"):
        if key in section and not isinstance(section[key], bool):
            raise StatusMappingError(path, "must be true or false", key)
    target = StatusTarget(
        path=path,
        exists_sql=_text_key(section, path, "exists_sql")
        or (DEFAULT_EXISTS_SQL if default_table else None),
        create_sql=_text_key(section, path, "create_sql"),
        update_sql=update_sql or DEFAULT_UPDATE_SQL,
        insert_sql=_text_key(section, path, "insert_sql")
        or (DEFAULT_INSERT_SQL if default_table else None),
        cancelled_sql=_text_key(section, path, "cancelled_sql"),
        vanished_is_cancelled=bool(section.get("vanished_is_cancelled", True)),
        on_cancel=on_cancel,
        apply_edits=bool(section.get("apply_edits", True)),
        default_table=default_table,
    )
    for key in ("update_sql", "insert_sql"):
        statement = getattr(target, key)
        if statement:
            bind_named(statement, path, key)
    return target
