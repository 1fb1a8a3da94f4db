"""``qbpa check``: validate the configuration and reach every system before the first run.

Each check prints one row (system, check, OK/WARN/FAIL/SKIP, what was found) and, when it is
not OK, how to fix it:

* **QuickBooks** — every ``QBO_*`` variable needed is set and valid; the refresh token works (a
  real refresh, whose rotated token is saved to the same token store the pipeline uses, so the
  check never strands it); the company answers (its name); the minor version; and the company
  preference *custom transaction numbers*, without which QuickBooks would renumber sales orders
  that must keep their PocketAdvantage numbers.
* **Inventiv FTP** — the URL and account parse; the SFTP host key is known; the login works;
  ``latest<account>`` is writable (a test file is written and removed).
* **Inventiv database** — the ODBC connection opens; the three order queries of the order mapping
  run (with an empty window) and return columns of the names the import expects.
* **Mappings** — every ``.fil`` layout compiles against the staged tables (the warehouse's when
  they are built, else empty tables of the staged schema); the order mapping's expressions
  compile against the staged order tables.

Nothing secret is ever printed: every message passes through a redactor that knows the secret
values of the environment (and the tokens the refresh produced). Exit status 1 when any check
FAILs, 0 otherwise; ``--json`` prints the same results for machines.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
SYSTEMS = ("quickbooks", "ftp", "database", "mappings")
_TITLES = {
    "quickbooks": "QuickBooks",
    "ftp": "Inventiv FTP",
    "database": "Inventiv DB",
    "mappings": "Mappings",
}
# Intuit retired minor versions 1-74 in 2025; older values are silently served as 75.
MIN_MINOR_VERSION = 75
FIL_LAYOUTS = ("customer.fil", "item.fil", "invoice.fil")
SECRET_VARIABLES = (
    "QBO_CLIENT_SECRET",
    "QBO_REFRESH_TOKEN",
    "INVENTIV_FTP_PASSWORD",
    "INVENTIV_DB_PASSWORD",
)
_README = "see the Configuration section of README.md"
_CUSTOM_TXN_FIX = (
    "in QuickBooks: Settings (gear) > Account and settings > Sales > Sales form content: turn "
    "on 'Custom transaction numbers', so sales orders keep their PocketAdvantage numbers"
)
_PWD_RE = re.compile(r"(?i)\b(pwd|password)\s*=\s*(\{(?:[^}]|\}\})*\}?|[^;]*)")


@dataclass(frozen=True)
class CheckResult:
    """One row of the report.

    Attributes:
        system: ``QuickBooks``, ``Inventiv FTP``, ``Inventiv DB`` or ``Mappings``.
        check: What was checked.
        status: ``OK``, ``WARN``, ``FAIL`` or ``SKIP`` (not run because an earlier check failed).
        detail: What was found (free of secrets).
        fix: How to fix it; empty when OK.
    """

    system: str
    check: str
    status: str
    detail: str
    fix: str = ""


class Redactor:
    """Replaces every known secret value in a text by ``***``."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *values: str | None) -> None:
        """Remember more secret values (values shorter than 4 characters are ignored)."""
        for value in values:
            if value and len(value) >= 4:
                self._secrets.add(value)

    def __call__(self, text: str) -> str:
        """Return ``text`` with every secret value replaced by ``***``."""
        # Longest first, so that a secret containing another is replaced whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def _env_secrets(env: Mapping[str, str]) -> list[str]:
    values = [env.get(name) for name in SECRET_VARIABLES]
    # A password written into the connection string itself (instead of INVENTIV_DB_PASSWORD).
    for match in _PWD_RE.finditer(env.get("INVENTIV_DB_CONNECTION") or ""):
        value = match.group(2).strip()
        values += [value, value[1:-1].replace("}}", "}") if value.startswith("{") else value]
    url = env.get("INVENTIV_FTP_URL") or ""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        values += [password, unquote(password)]
    return [v for v in values if v]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _Checks:
    """Runs the checks of one environment and collects the rows."""

    def __init__(self, env: Mapping[str, str], redact: Redactor) -> None:
        self.env = env
        self.redact = redact
        self.results: list[CheckResult] = []

    def add(self, system: str, check: str, status: str, detail: str, fix: str = "") -> bool:
        """Record a row; return True when it is not a failure."""
        self.results.append(
            CheckResult(system, check, status, self.redact(detail), self.redact(fix))
        )
        return status != FAIL

    def skip(self, system: str, checks: Iterable[str], because: str) -> None:
        """Record rows that were not run."""
        for check in checks:
            self.add(system, check, SKIP, f"not run: {because}")

    def var(self, name: str) -> str:
        """A variable's value, stripped ('' when unset)."""
        return (self.env.get(name) or "").strip()

    @property
    def data_dir(self) -> Path:
        """``QBPA_DATA_DIR`` (default ``./var``), as the pipeline resolves it."""
        return Path(self.var("QBPA_DATA_DIR") or "./var").expanduser()

    @property
    def mappings_dir(self) -> Path | None:
        """``QBPA_MAPPINGS_DIR`` or None."""
        value = self.var("QBPA_MAPPINGS_DIR")
        return Path(value).expanduser() if value else None

    # ------------------------------------------------------------------------- QuickBooks

    def quickbooks(self) -> None:
        """Variables, token refresh, company, minor version, custom transaction numbers."""
        from qbpa_assets.lib.quickbooks.errors import QboConfigError
        from qbpa_assets.lib.quickbooks.settings import TOKEN_STORE_FILE, QboSettings

        system = _TITLES["quickbooks"]
        later = ("token refresh", "company", "minor version", "custom transaction numbers")
        missing = [
            name
            for name in ("QBO_CLIENT_ID", "QBO_CLIENT_SECRET", "QBO_REALM_ID")
            if not self.var(name)
        ]
        store = self.data_dir / TOKEN_STORE_FILE
        if not self.var("QBO_REFRESH_TOKEN") and not store.is_file():
            missing.append("QBO_REFRESH_TOKEN")
        if missing:
            self.add(
                system,
                "variables",
                FAIL,
                f"not set: {', '.join(missing)}",
                f"set {', '.join(missing)} ({_README}); `qbpa authorize` can obtain the "
                "refresh token",
            )
            self.skip(system, later, "QuickBooks variables missing")
            return
        try:
            settings = QboSettings.from_env(self.env, data_dir=self.data_dir)
            settings.validate()
        except QboConfigError as exc:
            fix = f"correct {exc.variable} ({_README})" if exc.variable else _README
            self.add(system, "variables", FAIL, _first_line(exc), fix)
            self.skip(system, later, "QuickBooks configuration invalid")
            return
        seed = "QBO_REFRESH_TOKEN" if self.var("QBO_REFRESH_TOKEN") else f"token store {store}"
        self.add(
            system,
            "variables",
            OK,
            f"client, realm {settings.realm_id}, refresh token from {seed}, "
            f"API {settings.resolved_api_base_url}",
        )
        if not self._token_refresh(settings):
            self.skip(system, later[1:], "no access token")
            return
        self._company(settings)

    def _token_refresh(self, settings) -> bool:
        from qbpa_assets.lib.quickbooks import oauth
        from qbpa_assets.lib.quickbooks.errors import (
            QboAuthError,
            QboConfigError,
            QboConnectionError,
            QboError,
        )
        from qbpa_assets.lib.quickbooks.tokens import TokenManager, TokenStore

        system = _TITLES["quickbooks"]
        store = TokenStore(settings.token_store_path)
        auth = None

        def refresher(refresh_token: str):
            nonlocal auth
            if auth is None:
                auth = oauth.make_auth_client(settings)
            return oauth.refresh_grant(auth, refresh_token)

        try:
            manager = TokenManager(
                store,
                refresher,
                seed_refresh_token=settings.refresh_token,
                realm_id=settings.realm_id,
                logger=logger,
            )
            before = manager.state()
            self.redact.add(before.refresh_token, before.access_token)
            # Spend the refresh token now, through the same store and lock the pipeline uses:
            # that is the only proof it still works, and the rotated token is saved before use.
            manager.invalidate(before.access_token)
            after = manager.state()
            self.redact.add(after.refresh_token, after.access_token)
        except QboAuthError as exc:
            self.add(
                system,
                "token refresh",
                FAIL,
                _first_line(exc),
                "the refresh token was refused (expired, revoked or already used): run `qbpa "
                "authorize`, or set QBO_REFRESH_TOKEN to a new token for this company",
            )
            return False
        except QboConnectionError as exc:
            self.add(
                system,
                "token refresh",
                FAIL,
                _first_line(exc),
                "the OAuth endpoint cannot be reached: check QBO_ENVIRONMENT, QBO_CA_BUNDLE and "
                "the network/proxy",
            )
            return False
        except QboConfigError as exc:
            self.add(system, "token refresh", FAIL, _first_line(exc), f"correct {exc.variable}")
            return False
        except QboError as exc:
            self.add(
                system,
                "token refresh",
                FAIL,
                _first_line(exc),
                "check QBO_CLIENT_ID / QBO_CLIENT_SECRET and QBO_ENVIRONMENT",
            )
            return False
        finally:
            if auth is not None:
                auth.close()
        rotated = " (refresh token rotated)" if after.refresh_token != before.refresh_token else ""
        self.add(
            system,
            "token refresh",
            OK,
            f"new access token; saved to {settings.token_store_path}{rotated}",
        )
        return True

    def _company(self, settings) -> None:
        from qbpa_assets.lib.quickbooks.client import QboClient
        from qbpa_assets.lib.quickbooks.errors import QboError

        system = _TITLES["quickbooks"]
        try:
            with QboClient(settings, logger=logger, backoff_base=0.2, backoff_cap=2.0) as client:
                info = client.company_info()
                prefs = client.preferences()
        except QboError as exc:
            self.add(
                system,
                "company",
                FAIL,
                _first_line(exc),
                "check QBO_REALM_ID (the company id), QBO_API_BASE_URL and that the app is "
                "connected to this company (`qbpa authorize`)",
            )
            self.skip(system, ("minor version", "custom transaction numbers"), "no API access")
            return
        name = info.get("CompanyName") or info.get("LegalName") or "(no name)"
        self.add(system, "company", OK, f"{name!r} (realm {settings.realm_id})")
        minor = settings.minor_version
        if minor < MIN_MINOR_VERSION:
            self.add(
                system,
                "minor version",
                WARN,
                f"{minor}: Intuit no longer serves minor versions below {MIN_MINOR_VERSION}",
                f"set QBO_MINOR_VERSION={MIN_MINOR_VERSION} (or unset it)",
            )
        else:
            self.add(system, "minor version", OK, f"{minor}, accepted by the API")
        sales = prefs.get("SalesFormsPrefs") or {}
        custom = sales.get("CustomTxnNumbers")
        if custom is True:
            self.add(system, "custom transaction numbers", OK, "on")
        elif custom is False:
            self.add(system, "custom transaction numbers", FAIL, "off", _CUSTOM_TXN_FIX)
        else:
            self.add(
                system,
                "custom transaction numbers",
                WARN,
                "QuickBooks did not report SalesFormsPrefs.CustomTxnNumbers",
                _CUSTOM_TXN_FIX,
            )

    # ------------------------------------------------------------------------- FTP

    def ftp(self) -> None:
        """Configuration, host key (SFTP), login, ``latest<account>`` writable."""
        from qbpa_assets.lib.inventiv.ftp import (
            TransferAuthError,
            TransferError,
            TransferHostKeyError,
            make_transfer,
            remote_folder,
        )

        system = _TITLES["ftp"]
        url, account = self.var("INVENTIV_FTP_URL"), self.var("INVENTIV_ACCOUNT_ID")
        scheme = urlsplit(url).scheme.lower() if url else ""
        later = (["host key"] if scheme == "sftp" else []) + ["login", "folder writable"]
        pairs = (("INVENTIV_FTP_URL", url), ("INVENTIV_ACCOUNT_ID", account))
        missing = [name for name, value in pairs if not value]
        if missing:
            self.add(
                system,
                "variables",
                FAIL,
                f"not set: {', '.join(missing)}",
                f"set {', '.join(missing)} (e.g. INVENTIV_FTP_URL=sftp://user@host:22/inbound, "
                "INVENTIV_ACCOUNT_ID=1234)",
            )
            self.skip(system, later, "FTP variables missing")
            return
        key_file = self.var("INVENTIV_FTP_KEY_FILE") or None
        known_hosts = self.var("INVENTIV_FTP_KNOWN_HOSTS") or None
        host_key_ok = f"known ({known_hosts or '~/.ssh/known_hosts'})"
        password = self.env.get("INVENTIV_FTP_PASSWORD") or None
        problems: list[tuple[str, str]] = []
        try:
            folder = remote_folder(account)
        except ValueError as exc:
            problems.append((f"INVENTIV_ACCOUNT_ID: {exc}", "set INVENTIV_ACCOUNT_ID to the id"))
            folder = ""
        try:
            transfer = make_transfer(
                url,
                password,
                key_file,
                known_hosts,
                timeout=15,
                retries=1,
                backoff=0.1,
                ca_file=self.var("INVENTIV_FTP_CA_FILE") or None,
            )
        except ValueError as exc:
            problems.append(
                (
                    f"INVENTIV_FTP_URL: {exc}",
                    "use sftp://user@host:port/dir, ftp://..., ftps://... or file:///dir",
                )
            )
            transfer = None
        if scheme == "sftp":
            if not (key_file or password):
                problems.append(
                    (
                        "SFTP without credentials",
                        "set INVENTIV_FTP_KEY_FILE and/or INVENTIV_FTP_PASSWORD",
                    )
                )
            if key_file and not Path(key_file).is_file():
                problems.append(
                    (
                        f"INVENTIV_FTP_KEY_FILE {key_file} is not a file",
                        "point INVENTIV_FTP_KEY_FILE at the private key",
                    )
                )
        if problems:
            self.add(
                system,
                "variables",
                FAIL,
                "; ".join(p for p, _ in problems),
                "; ".join(f for _, f in problems),
            )
            self.skip(system, later, "FTP configuration invalid")
            return
        assert transfer is not None
        self.add(system, "variables", OK, f"{transfer.display}, folder {folder}")
        try:
            try:
                transfer.connect()
            except TransferHostKeyError as exc:
                source = known_hosts or "~/.ssh/known_hosts"
                parts = urlsplit(url)
                self.add(
                    system,
                    "host key",
                    FAIL,
                    _first_line(exc),
                    f"verify the server's fingerprint with its administrator, then add it to "
                    f"{source} (ssh-keyscan -p {parts.port or 22} {parts.hostname} >> {source}) "
                    "and set INVENTIV_FTP_KNOWN_HOSTS to that file",
                )
                self.skip(system, later[1:], "host key not trusted")
                return
            except TransferAuthError as exc:
                if scheme == "sftp":
                    self.add(system, "host key", OK, host_key_ok)
                self.add(
                    system,
                    "login",
                    FAIL,
                    _first_line(exc),
                    "check the user in INVENTIV_FTP_URL and INVENTIV_FTP_PASSWORD / "
                    "INVENTIV_FTP_KEY_FILE (the key must be authorized on the server)",
                )
                self.skip(system, ["folder writable"], "login failed")
                return
            except TransferError as exc:
                if scheme == "sftp":
                    self.skip(system, ["host key"], "server not reached")
                self.add(
                    system,
                    "login",
                    FAIL,
                    _first_line(exc),
                    "check host and port in INVENTIV_FTP_URL, that the server is up and that a "
                    "firewall lets this machine through",
                )
                self.skip(system, ["folder writable"], "no connection")
                return
            if scheme == "sftp":
                self.add(system, "host key", OK, host_key_ok)
            self.add(system, "login", OK, f"connected to {transfer.display}")
            try:
                transfer.check_writable(folder)
            except (TransferError, OSError) as exc:
                self.add(
                    system,
                    "folder writable",
                    FAIL,
                    _first_line(exc),
                    f"give the user write access to {folder} under the URL folder (or create it)",
                )
                return
            self.add(system, "folder writable", OK, f"wrote and removed a test file in {folder}")
        finally:
            transfer.close()

    # ------------------------------------------------------------------------- database

    def database(self) -> None:
        """Connection, then each order query of the mapping with an empty window."""
        from qbpa_assets.lib.inventiv.db import InventivDb, InventivDbError
        from qbpa_assets.lib.orders import (
            LINE_COLUMNS,
            ORDER_COLUMNS,
            OrderMappingError,
            load_order_mapping,
        )

        system = _TITLES["database"]
        queries = ("orders_sql", "lines_sql", "new_orders_sql")
        later = ["connect"] + [f"query {q}" for q in queries]
        conn_str = self.var("INVENTIV_DB_CONNECTION")
        if not conn_str:
            self.add(
                system,
                "variables",
                FAIL,
                "not set: INVENTIV_DB_CONNECTION",
                "set INVENTIV_DB_CONNECTION to an ODBC connection string without the password "
                "(e.g. Driver={ODBC Driver 18 for SQL Server};Server=host;Database=inventiv;"
                "Uid=qbpa) and INVENTIV_DB_PASSWORD to the password",
            )
            self.skip(system, later, "INVENTIV_DB_CONNECTION missing")
            return
        try:
            mapping = load_order_mapping(overrides_dir=self.mappings_dir)
        except (OrderMappingError, OSError) as exc:
            self.add(
                system,
                "variables",
                FAIL,
                f"order mapping: {_first_line(exc)}",
                "fix orders.toml in QBPA_MAPPINGS_DIR (or remove it to use the default)",
            )
            self.skip(system, later, "order mapping invalid")
            return
        self.add(system, "variables", OK, f"order mapping {mapping.path}")
        password = self.env.get("INVENTIV_DB_PASSWORD") or None
        db = InventivDb(conn_str, password=password, timeout=15, mapping=mapping, connect_retries=1)
        try:
            try:
                db.connect()
            except InventivDbError as exc:
                self.add(
                    system,
                    "connect",
                    FAIL,
                    _first_line(exc),
                    "check INVENTIV_DB_CONNECTION: the Driver name must be one `odbcinst -q -d` "
                    "lists; check server, port, database and user; the password belongs in "
                    "INVENTIV_DB_PASSWORD",
                )
                self.skip(system, later[1:], "no connection")
                return
            self.add(system, "connect", OK, f"connected ({db.safe_connection_string})")
            # An empty window: the statements are prepared and run, and return no rows.
            nowhere = date(1900, 1, 1)
            new_columns = ("order_id", "order_date", "modified_at")
            runs: list[tuple[str, list, tuple[str, ...]]] = [
                ("orders_sql", [nowhere, nowhere], ORDER_COLUMNS),
                ("lines_sql", [nowhere, nowhere], LINE_COLUMNS),
                ("new_orders_sql", [datetime(9999, 1, 1)], new_columns),
            ]
            for name, params, expected in runs:
                try:
                    columns, _rows = db.fetch_all(getattr(mapping, name), params)
                except InventivDbError as exc:
                    self.add(
                        system,
                        f"query {name}",
                        FAIL,
                        _first_line(exc),
                        f"fix [source] {name} in {mapping.path} for this database's tables",
                    )
                    continue
                absent = [c for c in expected if c not in columns]
                if absent:
                    self.add(
                        system,
                        f"query {name}",
                        FAIL,
                        f"runs, but lacks column(s) {', '.join(absent)} (got {', '.join(columns)})",
                        f"alias the columns with AS in [source] {name} of {mapping.path}",
                    )
                else:
                    self.add(system, f"query {name}", OK, f"runs; returns {', '.join(expected)}")
        finally:
            db.close()

    # ------------------------------------------------------------------------- mappings

    def mappings(self) -> None:
        """Every ``.fil`` layout and the order mapping compile against the staged schema."""
        from qbpa_assets.lib.mappings import MappingError, load_layout
        from qbpa_assets.lib.orders import OrderMappingError, load_order_mapping, validate_mapping

        system = _TITLES["mappings"]
        overrides = self.mappings_dir
        if overrides is not None and not overrides.is_dir():
            self.add(
                system,
                "QBPA_MAPPINGS_DIR",
                FAIL,
                f"{overrides} is not a folder",
                "create the folder or unset QBPA_MAPPINGS_DIR",
            )
            return
        empty = _empty_staged_schema()
        warehouse = _open_warehouse(self.data_dir)
        try:
            for name in FIL_LAYOUTS:
                try:
                    layout = load_layout(name, overrides)
                    con, where = empty, "staged tables not built yet: their empty schema"
                    if warehouse is not None and _has_table(warehouse, layout.source):
                        con, where = warehouse, "the warehouse's table"
                    layout.validate(con)
                except MappingError as exc:
                    is_override = bool(overrides and (overrides / f"{name}.toml").is_file())
                    origin = "override" if is_override else "layout"
                    self.add(
                        system,
                        name,
                        FAIL,
                        _first_line(exc),
                        f"fix the {origin} file named above"
                        + (" (or delete it to use the default)" if origin == "override" else ""),
                    )
                    continue
                kind = "override" if layout.is_override else "default"
                self.add(
                    system,
                    name,
                    OK,
                    f"{kind}: {len(layout.columns)} columns compile against {layout.source} "
                    f"({where})",
                )
            try:
                mapping = load_order_mapping(overrides_dir=overrides)
                validate_mapping(empty, mapping)
            except OrderMappingError as exc:
                self.add(
                    system,
                    "orders.toml",
                    FAIL,
                    _first_line(exc),
                    "fix the expression named above in the order mapping (or delete the "
                    "override to use the default)",
                )
            else:
                self.add(
                    system,
                    "orders.toml",
                    OK,
                    f"{len(mapping.header) + len(mapping.line)} expressions compile "
                    f"({mapping.path}, target {mapping.entity})",
                )
        finally:
            empty.close()
            if warehouse is not None:
                warehouse.close()


def _empty_staged_schema():
    """An in-memory DuckDB with empty raw, staged and order tables of the pipeline's schema.

    Built by the same SQL the assets run, over empty raw tables, so the column names and types
    are exactly those a real run produces.
    """
    import duckdb

    from qbpa_assets.lib.invoices.staging import refresh_invoice_lines
    from qbpa_assets.lib.master_data.staging import refresh_customers, refresh_items
    from qbpa_assets.lib.orders import ensure_tables
    from qbpa_assets.lib.warehouse import raw

    con = duckdb.connect(":memory:")
    raw.ensure_schema(con)
    refresh_customers(con)
    refresh_items(con)
    refresh_invoice_lines(con, datetime(2000, 1, 1), datetime(2000, 1, 2))
    ensure_tables(con)
    return con


def _open_warehouse(data_dir: Path):
    """The warehouse opened read-only, or None (missing, or held by a running pipeline)."""
    import duckdb

    path = data_dir / "qbpa.duckdb"
    if not path.is_file():
        return None
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        logger.debug("warehouse %s not readable now: %s", path, exc)
        return None


def _has_table(con, qualified: str) -> bool:
    from qbpa_assets.lib.warehouse.tables import existing_tables

    schema, _, table = qualified.rpartition(".")
    return table in existing_tables(con, schema or "main")


def run_checks(
    env: Mapping[str, str] | None = None,
    systems: Iterable[str] = SYSTEMS,
    redactor: Redactor | None = None,
) -> list[CheckResult]:
    """Run the checks of the given systems against an environment.

    Args:
        env: Variables to read (default ``os.environ``).
        systems: Any of ``quickbooks``, ``ftp``, ``database``, ``mappings``.
        redactor: Collects the secrets to hide; built from ``env`` when not given.

    Returns:
        The report rows, in order; every text is free of the environment's secrets.
    """
    env = os.environ if env is None else env
    redact = redactor or Redactor(_env_secrets(env))
    checks = _Checks(env, redact)
    runners: dict[str, Callable[[], None]] = {
        "quickbooks": checks.quickbooks,
        "ftp": checks.ftp,
        "database": checks.database,
        "mappings": checks.mappings,
    }
    for system in systems:
        try:
            runners[system]()
        except Exception as exc:  # a bug or an unforeseen failure must still give a report
            logger.debug("check of %s crashed", system, exc_info=True)
            checks.add(
                _TITLES[system],
                "unexpected error",
                FAIL,
                f"{type(exc).__name__}: {_first_line(exc)}",
                "re-run with --verbose and report the traceback",
            )
    return checks.results


def format_table(results: list[CheckResult], width: int = 100) -> str:
    """Render the rows as a text table, with the fix under each row that is not OK."""
    sys_w = max([len("SYSTEM")] + [len(r.system) for r in results])
    chk_w = max([len("CHECK")] + [len(r.check) for r in results])
    indent = sys_w + chk_w + 4 + 6 + 2
    detail_w = max(30, width - indent)
    lines = [f"{'SYSTEM':<{sys_w}}  {'CHECK':<{chk_w}}  {'STATUS':<6}  DETAIL"]
    for r in results:
        detail = textwrap.wrap(r.detail, detail_w) or [""]
        lines.append(f"{r.system:<{sys_w}}  {r.check:<{chk_w}}  {r.status:<6}  {detail[0]}")
        lines += [" " * indent + more for more in detail[1:]]
        if r.fix and r.status in (FAIL, WARN):
            fix = textwrap.wrap("fix: " + r.fix, detail_w)
            lines += [" " * indent + part for part in fix]
    counts = summary_counts(results)
    lines.append("")
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no checks run")
    return "\n".join(lines)


def summary_counts(results: list[CheckResult]) -> dict[str, int]:
    """Rows per status, in the order OK, WARN, FAIL, SKIP."""
    return {s: sum(1 for r in results if r.status == s) for s in (OK, WARN, FAIL, SKIP)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qbpa check",
        description="Check configuration and connectivity of QuickBooks, the Inventiv FTP and "
        "database, and the mappings. Exit status 1 if any check fails.",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--only",
        action="append",
        choices=SYSTEMS,
        metavar="SYSTEM",
        help=f"check only this system (repeatable): {', '.join(SYSTEMS)}",
    )
    parser.add_argument("--verbose", action="store_true", help="log progress to stderr")
    return parser


class _RedactingFilter(logging.Filter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        record.exc_text = (
            self.redact(logging.Formatter().formatException(record.exc_info))
            if (record.exc_info)
            else None
        )
        record.exc_info = None
        return True


def main(argv: list[str] | None = None) -> int:
    """Run ``qbpa check``; return 1 when any check fails, else 0."""
    args = _parser().parse_args(argv)
    redact = Redactor(_env_secrets(os.environ))
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RedactingFilter(redact))
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        results = run_checks(os.environ, args.only or SYSTEMS, redact)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    failed = any(r.status == FAIL for r in results)
    if args.json:
        out = {
            "ok": not failed,
            "counts": summary_counts(results),
            "results": [asdict(r) for r in results],
        }
        sys.stdout.write(redact(json.dumps(out, indent=2)) + "\n")
    else:
        sys.stdout.write(redact(format_table(results)) + "\n")
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
