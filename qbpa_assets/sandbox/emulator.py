"""An offline QuickBooks Online API emulator that speaks the real wire protocol over HTTPS.

The emulator serves one company on ``127.0.0.1``; each part of the API is one module:

* ``oauth.py``: discovery document, consent, token endpoint (rotating refresh tokens), revoke;
* ``query/``: the query language (``parser.py`` grammar, ``evaluate.py`` meaning);
* ``reads.py``: ``GET {entity}/{id}``, ``query``, Preferences, CompanyInfo;
* ``writes.py``: create, update (full and sparse), delete, void; ``requestid`` idempotency;
* ``transactions.py``: what QBO checks and computes on Invoices, Estimates, SalesReceipts;
* ``estimates.py``: an Estimate's ``TxnStatus`` and the Invoice made from it (``LinkedTxn``);
* ``custom_fields.py``: transaction custom fields, defined in Preferences;
* ``batch.py``: ``batch`` (at most 30 items, each answered on its own);
* ``cdc.py``: ``cdc`` (changes and tombstones, 30 days back, 1000 objects);
* ``faults.py``: the catalogue of Fault codes and messages, and every error answer's shape;
* ``limits.py``: QBO's throttles, throttle windows and the faults a test injects;
* ``controls.py``: test controls, as methods here and as ``POST /_emulator/<name>``;
* ``routes.py``: routing as a table (method + path pattern → handler);
* ``store.py``: the company's tables, Ids, SyncTokens, MetaData and clock;
* ``server.py``: the HTTPS server. ``company/`` generates the sample company.

The real python-quickbooks and intuit-oauth code runs against it unchanged.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import ssl
import tempfile
import threading
from pathlib import Path

from qbpa_assets.sandbox.batch import BatchApi
from qbpa_assets.sandbox.cdc import CdcApi
from qbpa_assets.sandbox.company import SampleCompany, generate_company
from qbpa_assets.sandbox.controls import ADMIN_PREFIX, Controls
from qbpa_assets.sandbox.estimates import EstimateLifecycle
from qbpa_assets.sandbox.faults import Fault
from qbpa_assets.sandbox.limits import FaultInjector, Throttle
from qbpa_assets.sandbox.oauth import DISCOVERY_PATH, OAuthApi
from qbpa_assets.sandbox.reads import ReadApi
from qbpa_assets.sandbox.routes import Router
from qbpa_assets.sandbox.server import Handler, Server
from qbpa_assets.sandbox.store import DataStore
from qbpa_assets.sandbox.tls import generate_tls_files
from qbpa_assets.sandbox.transactions import TransactionRules
from qbpa_assets.sandbox.writes import WriteApi

__all__ = ["Emulator", "Fault", "client_env"]

logger = logging.getLogger(__name__)


def client_env(info: dict[str, str]) -> dict[str, str]:
    """The ``QBO_*`` variables a client needs, from :meth:`Emulator.connection_info`.

    Also what a process reading the JSON line of ``qbpa sandbox serve`` uses.
    """
    return {
        "QBO_CLIENT_ID": info["client_id"],
        "QBO_CLIENT_SECRET": info["client_secret"],
        "QBO_REALM_ID": info["realm_id"],
        "QBO_REFRESH_TOKEN": info["refresh_token"],
        "QBO_ENVIRONMENT": info["discovery_url"],
        "QBO_API_BASE_URL": info["base_url"],
        "QBO_CA_BUNDLE": info["ca_file"],
    }


class Emulator(
    Router,
    Controls,
    EstimateLifecycle,
    OAuthApi,
    ReadApi,
    WriteApi,
    TransactionRules,
    BatchApi,
    CdcApi,
    DataStore,
):
    """The QuickBooks Online emulator; a context manager that serves in a background thread.

    Args:
        company: The data to serve (ownership passes to the emulator; objects are replaced,
            never mutated). Default: ``generate_company()``.
        port: TCP port; 0 picks a free one.
        workdir: Folder for the CA and certificates; default a temporary folder.
        refresh_grace_seconds: How long a refresh token stays valid after it was rotated.
        access_token_ttl: Access token lifetime in seconds.
        enforce_limits: Apply QBO's throttles (500 req/min, 10 concurrent, 40 batch/min).
        host: Address to listen on.
        realm_id: Company id; default a fixed sandbox-looking id.
        refresh_token_lifetime: ``x_refresh_token_expires_in`` of issued refresh tokens, in
            seconds (default 101 days); see :meth:`set_refresh_token_lifetime`.
    """

    def __init__(
        self,
        company: SampleCompany | None = None,
        port: int = 0,
        workdir: Path | str | None = None,
        refresh_grace_seconds: float = 0.0,
        access_token_ttl: float = 3600,
        enforce_limits: bool = False,
        host: str = "127.0.0.1",
        realm_id: str = "9341453050981187",
        refresh_token_lifetime: int | None = None,
    ) -> None:
        self.company = company if company is not None else generate_company()
        self.host = host
        self._port = port
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp("qbo-emu"))
        self.refresh_grace_seconds = float(refresh_grace_seconds)
        self.access_token_ttl = float(access_token_ttl)
        self.realm_id = realm_id
        self.client_id = "ABemu" + secrets.token_hex(20)
        self.client_secret = secrets.token_urlsafe(30)
        self._init_store(self.company)
        self._init_oauth()
        self.set_refresh_token_lifetime(refresh_token_lifetime)
        self._init_reads()
        self._init_writes()
        self._init_controls()
        self._faults = FaultInjector()
        self._throttle = Throttle(enforce_limits)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.ca_file = ""
        self.refresh_token = self.issue_refresh_token()

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Emulator:
        """Generate the certificates, bind the port and serve in a daemon thread."""
        tls = generate_tls_files(self.workdir, (self.host,))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert_file, tls.key_file)
        self.ca_file = str(tls.ca_file)
        self._server = Server((self.host, self._port), Handler, context, self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="qbo-emulator", daemon=True
        )
        self._thread.start()
        logger.info("QBO emulator listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and remove a temporary workdir."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return self._port

    @property
    def root_url(self) -> str:
        """``https://host:port`` of the server."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"https://{host}:{self._port}"

    @property
    def base_url(self) -> str:
        """The v3 API base URL (what ``QBO_API_BASE_URL`` takes)."""
        return f"{self.root_url}/v3"

    @property
    def discovery_url(self) -> str:
        """The OpenID discovery document URL (what ``QBO_ENVIRONMENT`` takes)."""
        return self.root_url + DISCOVERY_PATH

    @property
    def admin_url(self) -> str:
        """The base URL of the ``/_emulator/`` controls."""
        return self.root_url + ADMIN_PREFIX.rstrip("/")

    def env(self) -> dict[str, str]:
        """Return the ``QBO_*`` environment for a client (with a fresh refresh token)."""
        return client_env({**self.connection_info(), "refresh_token": self.issue_refresh_token()})

    def connection_info(self) -> dict[str, str]:
        """Return what ``qbpa sandbox serve`` prints: URLs, CA file and credentials."""
        return {
            "base_url": self.base_url,
            "discovery_url": self.discovery_url,
            "ca_file": self.ca_file,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "realm_id": self.realm_id,
            "refresh_token": self.refresh_token,
            "admin_url": self.admin_url,
        }
