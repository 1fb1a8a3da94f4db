"""The QuickBooks Online resource: one company, with auth, token rotation, paging and retries."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from qbpa_assets.lib.quickbooks.client import QboClient
from qbpa_assets.lib.quickbooks.errors import QboConfigError
from qbpa_assets.lib.quickbooks.settings import ENV_VARS, TOKEN_STORE_FILE, QboSettings


class QuickBooksResource(dg.ConfigurableResource):
    """A QuickBooks Online company, reached through :class:`QboClient`.

    Every value may be left unset at definitions load; a missing one raises
    :class:`QboConfigError` naming its variable (``QBO_CLIENT_ID`` …) only when a client is
    requested, so the code location always loads. The token store lives in ``data_dir``.
    """

    client_id: str | None = Field(default=None, description="QBO_CLIENT_ID")
    client_secret: str | None = Field(default=None, description="QBO_CLIENT_SECRET")
    realm_id: str | None = Field(default=None, description="QBO_REALM_ID")
    refresh_token: str | None = Field(
        default=None, description="QBO_REFRESH_TOKEN: only seeds the token store"
    )
    environment: str = Field(
        default="production", description="production, sandbox, or a discovery-document URL"
    )
    api_base_url: str | None = Field(default=None, description="QBO_API_BASE_URL override")
    ca_bundle: str | None = Field(default=None, description="QBO_CA_BUNDLE")
    minor_version: int = 75
    data_dir: str = Field(default="./var", description="QBPA_DATA_DIR (holds the token store)")
    max_concurrency: int = Field(default=4, description="page requests in flight (≤ 10)")

    @classmethod
    def from_env(cls, **overrides: Any) -> QuickBooksResource:
        """Build the resource from ``QBO_*`` variables, through ``dg.EnvVar`` for each set one.

        Unset variables stay ``None`` instead of becoming an ``EnvVar`` that Dagster would refuse
        at launch with its own error; :meth:`get_client` then names them.
        """
        values: dict[str, Any] = {}
        for name, var in ENV_VARS.items():
            if os.environ.get(var):
                values[name] = dg.EnvVar.int(var) if name == "minor_version" else dg.EnvVar(var)
        if os.environ.get("QBPA_DATA_DIR"):
            values["data_dir"] = dg.EnvVar("QBPA_DATA_DIR")
        values.update(overrides)
        return cls(**values)

    def settings(self) -> QboSettings:
        """The client settings, validated (raises :class:`QboConfigError` naming a variable)."""
        for name in ("client_id", "client_secret", "realm_id"):
            if not (getattr(self, name) or "").strip():
                var = ENV_VARS[name]
                raise QboConfigError(
                    f"{var} is not set: the QuickBooks resource needs it", variable=var
                )
        settings = QboSettings(
            client_id=self.client_id or "",
            client_secret=self.client_secret or "",
            realm_id=self.realm_id or "",
            refresh_token=self.refresh_token or None,
            environment=self.environment or "production",
            api_base_url=self.api_base_url or None,
            ca_bundle=self.ca_bundle or None,
            minor_version=self.minor_version,
            token_store_path=Path(self.data_dir).expanduser() / TOKEN_STORE_FILE,
            max_concurrency=self.max_concurrency,
        )
        settings.validate()
        return settings

    def get_client(self, logger: Any | None = None) -> QboClient:
        """A new client (close it, or use it as a context manager)."""
        return QboClient(self.settings(), logger=logger)

    @contextlib.contextmanager
    def client(self, logger: Any | None = None) -> Iterator[QboClient]:
        """``with qbo.client(context.log) as client: ...``."""
        client = self.get_client(logger)
        try:
            yield client
        finally:
            client.close()
