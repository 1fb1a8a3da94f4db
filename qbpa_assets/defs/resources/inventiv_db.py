"""The Inventiv (PocketAdvantage) order database resource: ODBC access with the order mapping."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import dagster as dg
from pydantic import Field

from qbpa_assets.lib.inventiv.db import InventivDb, InventivDbError
from qbpa_assets.lib.orders.mapping import OrderMapping, load_order_mapping


class InventivDbResource(dg.ConfigurableResource):
    """The Inventiv order database, reached over ODBC through :class:`InventivDb`.

    The connection string may be left unset at definitions load (the code location must load
    without it); :meth:`get_db` then raises :class:`InventivDbError` naming
    ``INVENTIV_DB_CONNECTION``. The password is kept apart and never logged.
    """

    connection_string: str | None = Field(
        default=None, description="INVENTIV_DB_CONNECTION: ODBC connection string, no password"
    )
    password: str | None = Field(default=None, description="INVENTIV_DB_PASSWORD")
    timeout: int = Field(default=30, description="login and query timeout, seconds")
    mappings_dir: str | None = Field(
        default=None, description="QBPA_MAPPINGS_DIR: folder whose orders.toml overrides ours"
    )

    @classmethod
    def from_env(cls, **overrides: Any) -> InventivDbResource:
        """Build from ``INVENTIV_DB_*`` / ``QBPA_MAPPINGS_DIR`` through ``dg.EnvVar`` when set."""
        values: dict[str, Any] = {}
        for name, var in (
            ("connection_string", "INVENTIV_DB_CONNECTION"),
            ("password", "INVENTIV_DB_PASSWORD"),
            ("mappings_dir", "QBPA_MAPPINGS_DIR"),
        ):
            if os.environ.get(var):
                values[name] = dg.EnvVar(var)
        values.update(overrides)
        return cls(**values)

    def mapping(self) -> OrderMapping:
        """The order mapping (``orders.toml`` from ``mappings_dir`` if present, else ours)."""
        return load_order_mapping(overrides_dir=self.mappings_dir or None)

    @contextlib.contextmanager
    def get_db(self) -> Iterator[InventivDb]:
        """Open the database (closed on exit).

        Raises:
            InventivDbError: No connection string configured, or the connection failed.
        """
        if not (self.connection_string or "").strip():
            raise InventivDbError(
                "INVENTIV_DB_CONNECTION is not set: the Inventiv database resource needs an ODBC "
                "connection string (e.g. Driver=SQLite3;Database=/path/inventiv.db)"
            )
        db = InventivDb(
            self.connection_string or "",
            password=self.password or None,
            timeout=self.timeout,
        )
        try:
            yield db
        finally:
            db.close()
