"""Every environment variable qbpa reads, declared once.

Each :class:`Variable` says its name, type, whether it is secret, its default, what it means
and which values it allows (a validator). The declarations are used by

* ``defs/resources`` — the resources are built from them (secrets through ``dg.EnvVar``);
* ``defs/partitions`` — which falls back to a default instead of raising at import, so a bad
  value never takes the code location down (the runs then fail, see :func:`check_values`);
* ``qbpa check`` — which reports every invalid value with its allowed values;
* the demo, and the README's *Configuration* table (a test keeps both equal).

This module imports no Dagster (only plain helpers of ``lib/``), so anything may use it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from qbpa_assets.lib import validators
from qbpa_assets.lib.master_data.rep_source import parse_rep_source

README_SECTION = "the Configuration section of README.md"
# How the example environment file marks a value to replace: <INTUIT_CLIENT_ID>.
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*>")


class ConfigError(ValueError):
    """A variable holds a value qbpa cannot use.

    Attributes:
        variable: The variable's name.
        allowed: What the variable accepts, in words.
    """

    def __init__(self, variable: str, message: str, allowed: str = "") -> None:
        super().__init__(message)
        self.variable = variable
        self.allowed = allowed


# ----------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Variable:
    """One environment variable.

    Attributes:
        name: The variable, e.g. ``QBPA_TIMEZONE``.
        meaning: One line for the README table and ``qbpa check``.
        system: Which part of qbpa reads it: ``quickbooks``, ``ftp``, ``database``, ``orders``,
            ``mappings``, ``warehouse``, ``alerts`` or ``settings`` (``qbpa check`` groups by
            it).
        default: The value used when unset (None: no value; the feature is off or the resource
            names the variable when it is needed).
        secret: Never printed, logged or shown in the UI; passed through ``dg.EnvVar``.
        allowed: The values it accepts, in words (shown with every error).
        parse: Validator returning the typed value; raises ValueError on a bad value.
        fields: ``(resource key, field)`` pairs the value is given to.
    """

    name: str
    meaning: str
    system: str
    default: str | None = None
    secret: bool = False
    allowed: str = "any text"
    parse: Callable[[str], object] = str
    fields: tuple[tuple[str, str], ...] = ()

    @property
    def is_int(self) -> bool:
        """Whether the value is an integer (given to resources through ``EnvVar.int``)."""
        return "integer" in self.allowed

    def read(self, env: Mapping[str, str] | None = None) -> str | None:
        """The raw value (stripped), or None when unset or blank."""
        env = os.environ if env is None else env
        return (env.get(self.name) or "").strip() or None

    def value(self, env: Mapping[str, str] | None = None) -> object:
        """The parsed value, or the parsed default when unset.

        Raises:
            ConfigError: The value is set but not allowed; names the variable and the allowed
                values (never the value of a secret).
        """
        raw = self.read(env)
        if raw is None:
            return None if self.default is None else self.parse(self.default)
        return self.check(raw)

    def check(self, raw: object) -> object:
        """Parse ``raw`` (a value a resource was given), raising :class:`ConfigError`."""
        text = str(raw).strip()
        if _PLACEHOLDER.search(text):
            raise ConfigError(
                self.name,
                f"{self.name} still holds a placeholder of the example file: replace it "
                f"(allowed: {self.allowed})",
                self.allowed,
            )
        try:
            return self.parse(text)
        except ValueError as exc:
            reason = "the value is not allowed" if self.secret else str(exc)
            raise ConfigError(
                self.name,
                f"{self.name} is invalid: {reason}. Allowed: {self.allowed} (see {README_SECTION})",
                self.allowed,
            ) from None


_Q, _F, _D, _W = "quickbooks", "ftp", "database", "warehouse"
ENV_FILE_DEFAULT = "qbpa.env"
_INT = "an integer"

VARIABLES: tuple[Variable, ...] = (
    # QuickBooks Online
    Variable("QBO_CLIENT_ID", "Intuit app client id", _Q, fields=((_Q, "client_id"),)),
    Variable(
        "QBO_CLIENT_SECRET",
        "Intuit app client secret",
        _Q,
        secret=True,
        fields=((_Q, "client_secret"),),
    ),
    Variable(
        "QBO_REALM_ID",
        "QuickBooks company id (`qbpa authorize` prints it)",
        _Q,
        fields=((_Q, "realm_id"),),
    ),
    Variable(
        "QBO_REFRESH_TOKEN",
        "seeds the token store; afterwards the store is the source of truth",
        _Q,
        secret=True,
        fields=((_Q, "refresh_token"),),
    ),
    Variable(
        "QBO_ENVIRONMENT",
        "which Intuit OAuth endpoints to use",
        _Q,
        default="production",
        allowed="`production`, `sandbox`, or an https:// OpenID discovery-document URL",
        parse=validators.qbo_environment,
        fields=((_Q, "environment"),),
    ),
    Variable(
        "QBO_API_BASE_URL",
        "optional override of the v3 API base",
        _Q,
        allowed="an https:// URL such as `https://host:port/v3`",
        parse=validators.url("https"),
        fields=((_Q, "api_base_url"),),
    ),
    Variable(
        "QBO_CA_BUNDLE",
        "optional CA file to trust for the QuickBooks and OAuth endpoints",
        _Q,
        allowed="a PEM file",
        fields=((_Q, "ca_bundle"),),
    ),
    Variable(
        "QBO_MINOR_VERSION",
        "QuickBooks API minor version",
        _Q,
        default="75",
        allowed=f"{_INT} (75 or more is served)",
        parse=validators.integer(1, 999),
        fields=((_Q, "minor_version"),),
    ),
    Variable(
        "QBO_SALES_ORDER_ENTITY",
        "what an order becomes in QuickBooks — the only place this is set",
        "orders",
        default="Estimate",
        allowed="`Estimate`, `Invoice` or `SalesReceipt`",
        parse=validators.one_of("Estimate", "Invoice", "SalesReceipt"),
        fields=(("qbpa", "sales_order_entity"),),
    ),
    Variable(
        "QBPA_SALES_REP_SOURCE",
        "where sales reps come from (QuickBooks has no sales-rep list)",
        "orders",
        default="employee",
        allowed="`employee`, `custom_field:<name>` (a transaction custom field, e.g. "
        "`custom_field:Sales Rep`), or `class`",
        parse=lambda text: parse_rep_source(text).setting,
        fields=(("qbpa", "sales_rep_source"),),
    ),
    # Inventiv FTP
    Variable(
        "INVENTIV_FTP_URL",
        "where PocketAdvantage picks up its files",
        _F,
        allowed="`sftp://user@host:port/dir`, `ftp://…`, `ftps://…`, or `file:///dir`",
        parse=validators.url("sftp", "ftp", "ftps", "file"),
        fields=(("inventiv_ftp", "url"),),
    ),
    Variable(
        "INVENTIV_FTP_PASSWORD",
        "FTP password (and/or a key file)",
        _F,
        secret=True,
        fields=(("inventiv_ftp", "password"),),
    ),
    Variable(
        "INVENTIV_FTP_KEY_FILE",
        "SFTP private key file",
        _F,
        allowed="a file path",
        fields=(("inventiv_ftp", "key_file"),),
    ),
    Variable(
        "INVENTIV_FTP_KNOWN_HOSTS",
        "known_hosts file; an SFTP host not in it is refused (default `~/.ssh/known_hosts`)",
        _F,
        allowed="a file path",
        fields=(("inventiv_ftp", "known_hosts"),),
    ),
    Variable(
        "INVENTIV_FTP_CA_FILE",
        "optional CA file an `ftps://` server's certificate is checked against "
        "(default: the system store)",
        _F,
        allowed="a PEM file",
        fields=(("inventiv_ftp", "ca_file"),),
    ),
    Variable(
        "INVENTIV_FTP_HISTORY_DIR",
        "optional folder on the FTP (relative to the URL folder) that keeps a dated copy of "
        "every delivered file, `<dir>/<YYYY-MM-DD>/<HHMMSS.ffffff>Z_<file>` (a local copy is "
        "always kept in `QBPA_DATA_DIR/exports/history/`)",
        _F,
        allowed="a relative folder such as `history`",
        fields=(("inventiv_ftp", "history_dir"),),
    ),
    Variable(
        "INVENTIV_ACCOUNT_ID",
        "the `<cust_id>` in `latest<cust_id>`",
        _F,
        fields=(("inventiv_ftp", "account_id"),),
    ),
    # Inventiv database
    Variable(
        "INVENTIV_DB_CONNECTION",
        "ODBC connection string of the Inventiv database, without the password",
        _D,
        allowed="an ODBC connection string such as `Driver={…};Server=…;Database=…;UID=…`",
        fields=(("inventiv_db", "connection_string"),),
    ),
    Variable(
        "INVENTIV_DB_PASSWORD",
        "the database password, kept apart from the connection string",
        _D,
        secret=True,
        fields=(("inventiv_db", "password"),),
    ),
    Variable(
        "QBPA_ORDER_SENSOR_INTERVAL",
        "seconds between new-order checks",
        "orders",
        default="60",
        allowed=f"{_INT} from 1 to 86400",
        parse=validators.integer(1, 86400),
    ),
    Variable(
        "QBPA_DB_OUTAGE_ALERT_MINUTES",
        "minutes the Inventiv database may stay unreachable before the new-order sensor alerts",
        "orders",
        default="60",
        allowed=f"{_INT} from 1 to 10080",
        parse=validators.integer(1, 10080),
    ),
    # Local data, mappings, partitions
    Variable(
        "QBPA_DATA_DIR",
        "DuckDB file, token store, local export copies",
        _W,
        default="./var",
        allowed="a folder path",
        fields=((_Q, "data_dir"), (_W, "data_dir")),
    ),
    Variable(
        "QBPA_MAPPINGS_DIR",
        "optional folder of mapping overrides",
        "mappings",
        allowed="a folder path",
        fields=(("inventiv_db", "mappings_dir"), ("qbpa", "mappings_dir")),
    ),
    Variable(
        "QBPA_PARTITION_START",
        "first daily partition",
        _W,
        default="2026-01-01",
        allowed="a date `YYYY-MM-DD`",
        parse=validators.iso_date,
        fields=((_W, "partition_start"),),
    ),
    Variable(
        "QBPA_TIMEZONE",
        "time zone of the partition windows and the schedules",
        _W,
        default="UTC",
        allowed="an IANA time zone name such as `UTC` or `America/New_York`",
        parse=validators.time_zone,
        fields=((_W, "timezone"),),
    ),
    Variable(
        "QBPA_DUCKDB_MEMORY_LIMIT",
        "cap on DuckDB's memory; above it DuckDB spills to `QBPA_DATA_DIR/tmp`",
        _W,
        default="512MB",
        allowed="a size such as `512MB` or `2GB`",
        parse=validators.memory_size,
        fields=((_W, "memory_limit"),),
    ),
    Variable(
        "QBPA_ENV_FILE",
        "the environment file `qbpa` reads before anything else (variables already set win)",
        "settings",
        default=ENV_FILE_DEFAULT,
        allowed="a file path",
    ),
    # Alerts
    Variable(
        "QBPA_ALERT_WEBHOOK_URL",
        "webhook that receives alerts (Slack/Mattermost compatible JSON)",
        "alerts",
        secret=True,
        allowed="an http(s):// URL",
        parse=validators.url("http", "https"),
    ),
    Variable(
        "QBPA_SMTP_URL",
        "mail server and addresses for alerts",
        "alerts",
        allowed="`smtp://user@host:25?from=a@b&to=c@d`, `smtps://…` or `smtp+starttls://…`",
        parse=validators.url("smtp", "smtps", "smtp+starttls"),
    ),
    Variable("QBPA_SMTP_PASSWORD", "password of the mail server", "alerts", secret=True),
    Variable(
        "QBPA_UI_BASE_URL",
        "the address users open the UI at, for the links in alerts",
        "alerts",
        default="http://127.0.0.1:3000",
        allowed="an http(s):// URL",
        parse=validators.url("http", "https"),
    ),
)

BY_NAME: dict[str, Variable] = {v.name: v for v in VARIABLES}
SECRETS: tuple[str, ...] = tuple(v.name for v in VARIABLES if v.secret)


def get(name: str) -> Variable:
    """The declaration of ``name`` (KeyError for an undeclared variable)."""
    return BY_NAME[name]


def value(name: str, env: Mapping[str, str] | None = None) -> object:
    """The parsed value of ``name`` (its default when unset); raises :class:`ConfigError`."""
    return get(name).value(env)


def value_or_default(name: str, env: Mapping[str, str] | None = None) -> object:
    """Like :func:`value`, but a bad value gives the default instead of raising.

    For code that runs at import (partitions, sensor intervals): the code location must load
    whatever the environment holds. The run that reads the variable still fails (the
    resources call :func:`check_values`), and ``qbpa check`` reports it.
    """
    variable = get(name)
    try:
        return variable.value(env)
    except ConfigError:
        return None if variable.default is None else variable.parse(variable.default)


def problems(
    env: Mapping[str, str] | None = None, names: Iterable[str] | None = None
) -> list[ConfigError]:
    """Every set variable (of ``names``, default all) whose value is not allowed."""
    found = []
    for variable in VARIABLES if names is None else [get(n) for n in names]:
        try:
            variable.value(env)
        except ConfigError as exc:
            found.append(exc)
    return found


def check_values(values: Mapping[str, object]) -> None:
    """Check values a resource was given, by variable name; raise the first bad one.

    Resources call this when a run starts (``setup_for_execution``), so a bad value fails the
    run with the variable and its allowed values named, not the code location.
    """
    for name, raw in values.items():
        if raw is not None and str(raw).strip():
            get(name).check(raw)


def env_file_path(env: Mapping[str, str] | None = None) -> Path:
    """The environment file ``qbpa`` reads: ``QBPA_ENV_FILE``, default ``./qbpa.env``."""
    return Path(str(value_or_default("QBPA_ENV_FILE", env))).expanduser()
