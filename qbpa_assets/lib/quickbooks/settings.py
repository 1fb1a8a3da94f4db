"""Settings of the QuickBooks Online client (one company, one Intuit app)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from qbpa_assets.lib.quickbooks.errors import QboConfigError
from qbpa_assets.lib.quickbooks.limits import MAX_CONCURRENT_REQUESTS, THROTTLE_MIN_BACKOFF_SECONDS

PRODUCTION_API_BASE_URL = "https://quickbooks.api.intuit.com/v3"
SANDBOX_API_BASE_URL = "https://sandbox-quickbooks.api.intuit.com/v3"
TOKEN_STORE_FILE = "qbo_tokens.json"

# QuickBooks refuses more than 10 concurrent requests per company.
MAX_CONCURRENCY_LIMIT = MAX_CONCURRENT_REQUESTS

# field name -> environment variable, used to name what is missing.
ENV_VARS: dict[str, str] = {
    "client_id": "QBO_CLIENT_ID",
    "client_secret": "QBO_CLIENT_SECRET",
    "realm_id": "QBO_REALM_ID",
    "refresh_token": "QBO_REFRESH_TOKEN",
    "environment": "QBO_ENVIRONMENT",
    "api_base_url": "QBO_API_BASE_URL",
    "ca_bundle": "QBO_CA_BUNDLE",
    "minor_version": "QBO_MINOR_VERSION",
}


@dataclass(frozen=True)
class QboSettings:
    """Everything the client needs to talk to one QuickBooks company.

    Secrets (client secret, refresh token) are excluded from ``repr`` so that a settings object
    can be logged or shown in a traceback safely.

    Attributes:
        client_id: Intuit app client id (``QBO_CLIENT_ID``).
        client_secret: Intuit app client secret (``QBO_CLIENT_SECRET``).
        realm_id: QuickBooks company id (``QBO_REALM_ID``).
        refresh_token: Seed refresh token (``QBO_REFRESH_TOKEN``); only seeds the token store.
        environment: ``production``, ``sandbox`` or an OpenID discovery-document URL.
        api_base_url: Override of the v3 API base, e.g. ``https://host:port/v3``.
        ca_bundle: CA file trusted for the API and OAuth endpoints (``QBO_CA_BUNDLE``).
        minor_version: QuickBooks API minor version.
        token_store_path: JSON token store (refresh/access token, realm).
        max_concurrency: Page requests in flight at once (capped at 10, the QBO limit).
        max_retries: Retries of a request failing with 5xx or a dropped connection.
        throttle_budget: Seconds to keep backing off while QuickBooks throttles (429 / Fault
            3001), at least; its throttle window lasts up to a minute.
        timeout: Read timeout of one request, seconds (connect timeout is shorter).
    """

    client_id: str
    client_secret: str = field(repr=False)
    realm_id: str
    refresh_token: str | None = field(default=None, repr=False)
    environment: str = "production"
    api_base_url: str | None = None
    ca_bundle: str | None = None
    minor_version: int = 75
    token_store_path: Path = field(default_factory=lambda: Path("./var") / TOKEN_STORE_FILE)
    max_concurrency: int = 4
    max_retries: int = 6
    throttle_budget: float = THROTTLE_MIN_BACKOFF_SECONDS
    timeout: float = 60.0

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, data_dir: str | Path | None = None
    ) -> QboSettings:
        """Read the ``QBO_*`` variables (and ``QBPA_DATA_DIR`` for the token store).

        Missing values are left empty; :meth:`validate` names them when the client needs them.
        """
        env = os.environ if environ is None else environ
        data = Path(data_dir or env.get("QBPA_DATA_DIR") or "./var")
        minor = env.get("QBO_MINOR_VERSION") or "75"
        try:
            minor_version = int(minor)
        except ValueError as exc:
            raise QboConfigError(
                f"QBO_MINOR_VERSION must be an integer, got {minor!r}", variable="QBO_MINOR_VERSION"
            ) from exc
        return cls(
            client_id=env.get("QBO_CLIENT_ID", ""),
            client_secret=env.get("QBO_CLIENT_SECRET", ""),
            realm_id=env.get("QBO_REALM_ID", ""),
            refresh_token=env.get("QBO_REFRESH_TOKEN") or None,
            environment=env.get("QBO_ENVIRONMENT") or "production",
            api_base_url=env.get("QBO_API_BASE_URL") or None,
            ca_bundle=env.get("QBO_CA_BUNDLE") or None,
            minor_version=minor_version,
            token_store_path=data / TOKEN_STORE_FILE,
        )

    @property
    def resolved_api_base_url(self) -> str:
        """The v3 API base URL, without trailing slash."""
        if self.api_base_url:
            return self.api_base_url.rstrip("/")
        if self.environment.lower() in {"sandbox", "sand"}:
            return SANDBOX_API_BASE_URL
        return PRODUCTION_API_BASE_URL

    @property
    def effective_concurrency(self) -> int:
        """``max_concurrency`` clamped to 1..10."""
        return max(1, min(int(self.max_concurrency), MAX_CONCURRENCY_LIMIT))

    def validate(self, *, need_realm: bool = True) -> None:
        """Raise :class:`QboConfigError` naming the first missing or invalid variable."""
        required = ["client_id", "client_secret"] + (["realm_id"] if need_realm else [])
        for name in required:
            if not str(getattr(self, name) or "").strip():
                var = ENV_VARS[name]
                raise QboConfigError(
                    f"{var} is not set: the QuickBooks connection needs it "
                    f"(see the Configuration section of README.md)",
                    variable=var,
                )
        env = (self.environment or "").strip()
        if env.lower() not in {"production", "prod", "sandbox", "sand"} and not env.startswith(
            "https://"
        ):
            raise QboConfigError(
                "QBO_ENVIRONMENT must be 'production', 'sandbox' or an https:// OpenID "
                f"discovery-document URL, got {env!r}",
                variable="QBO_ENVIRONMENT",
            )
        if self.api_base_url and not self.api_base_url.startswith("https://"):
            raise QboConfigError(
                f"QBO_API_BASE_URL must be an https:// URL, got {self.api_base_url!r}",
                variable="QBO_API_BASE_URL",
            )
        if self.ca_bundle and not Path(self.ca_bundle).is_file():
            raise QboConfigError(
                f"QBO_CA_BUNDLE points to {self.ca_bundle!r}, which is not a file",
                variable="QBO_CA_BUNDLE",
            )
