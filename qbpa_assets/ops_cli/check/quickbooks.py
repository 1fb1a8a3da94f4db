"""QuickBooks checks: variables, token refresh, re-authorization date, company, preferences.

The settings come from the same :class:`QuickBooksResource` a run builds, and the refresh goes
through the same token store and lock, so the check never passes what a run would refuse and
never strands a rotated refresh token.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from qbpa_assets.defs.resources.quickbooks import QuickBooksResource
from qbpa_assets.lib.quickbooks.settings import TOKEN_STORE_FILE, QboSettings
from qbpa_assets.ops_cli.check.report import FAIL, OK, SKIP, WARN, Report, first_line
from qbpa_assets.ops_cli.check.settings import describe, problems_of

logger = logging.getLogger(__name__)

# Intuit retired minor versions 1-74 in 2025; older values are silently served as 75.
MIN_MINOR_VERSION = 75
# The token-expiry alert (defs/alerts/token_expiry.py) fires this many days before.
REAUTHORIZE_WARNING_DAYS = 14
_README = "see the Configuration section of README.md"
_CUSTOM_TXN_FIX = (
    "in QuickBooks: Settings (gear) > Account and settings > Sales > Sales form content: turn "
    "on 'Custom transaction numbers', so sales orders keep their PocketAdvantage numbers"
)
_KEYS_FIX = (
    "QuickBooks refused the app's keys (invalid_client): check QBO_CLIENT_ID and "
    "QBO_CLIENT_SECRET (production keys with QBO_ENVIRONMENT=production, development keys "
    "with sandbox)"
)
_AUTHORIZE_FIX = (
    "the refresh token is dead (invalid_grant: expired, revoked or already used): run `qbpa "
    "authorize`, or set QBO_REFRESH_TOKEN to a new token for this company"
)
LATER = (
    "token refresh",
    "re-authorization",
    "company",
    "minor version",
    "custom transaction numbers",
)


def check_quickbooks(resource: QuickBooksResource, env, report: Report) -> None:
    """Variables, token refresh, re-authorization date, company, minor version, preferences."""
    from qbpa_assets.lib.quickbooks.errors import QboConfigError

    problems = problems_of(env, "quickbooks")
    if problems:
        report.add("variables", FAIL, *describe(problems))
        report.skip(LATER, "QuickBooks configuration invalid")
        return
    missing = [
        name
        for name, value in (
            ("QBO_CLIENT_ID", resource.client_id),
            ("QBO_CLIENT_SECRET", resource.client_secret),
            ("QBO_REALM_ID", resource.realm_id),
        )
        if not (value or "").strip()
    ]
    store = Path(resource.data_dir).expanduser() / TOKEN_STORE_FILE
    if not resource.refresh_token and not store.is_file():
        missing.append("QBO_REFRESH_TOKEN")
    if missing:
        report.add(
            "variables",
            FAIL,
            f"not set: {', '.join(missing)}",
            f"set {', '.join(missing)} ({_README}); `qbpa authorize` can obtain the refresh token",
        )
        report.skip(LATER, "QuickBooks variables missing")
        return
    try:
        settings = resource.settings()  # the run's own validation
    except QboConfigError as exc:
        fix = f"correct {exc.variable} ({_README})" if exc.variable else _README
        report.add("variables", FAIL, first_line(exc), fix)
        report.skip(LATER, "QuickBooks configuration invalid")
        return
    seed = "QBO_REFRESH_TOKEN" if resource.refresh_token else f"token store {store}"
    report.add(
        "variables",
        OK,
        f"client, realm {settings.realm_id}, refresh token from {seed}, "
        f"API {settings.resolved_api_base_url}",
    )
    expires_at = _token_refresh(settings, report)
    if expires_at is False:
        report.skip(LATER[1:], "no access token")
        return
    _reauthorization(expires_at, report)
    _company(settings, report)


def _token_refresh(settings: QboSettings, report: Report) -> float | None | bool:
    """Spend the refresh token; return its hard expiry (epoch), None if unknown, False on error."""
    from qbpa_assets.lib.quickbooks import oauth
    from qbpa_assets.lib.quickbooks.errors import (
        QboAuthError,
        QboConfigError,
        QboConnectionError,
        QboError,
    )
    from qbpa_assets.lib.quickbooks.tokens import TokenManager, TokenStore

    auth = None

    def refresher(refresh_token: str):
        nonlocal auth
        if auth is None:
            auth = oauth.make_auth_client(settings)
        return oauth.refresh_grant(auth, refresh_token)

    try:
        manager = TokenManager(
            TokenStore(settings.token_store_path),
            refresher,
            seed_refresh_token=settings.refresh_token,
            realm_id=settings.realm_id,
            logger=logger,
        )
        before = manager.state()
        report.redact.add(before.refresh_token, before.access_token)
        # Spend the refresh token now, through the same store and lock the pipeline uses:
        # that is the only proof it still works, and the rotated token is saved before use.
        manager.invalidate(before.access_token)
        after = manager.state()
        report.redact.add(after.refresh_token, after.access_token)
    except QboAuthError as exc:
        keys = exc.code == "invalid_client" or exc.status == 401
        report.add("token refresh", FAIL, first_line(exc), _KEYS_FIX if keys else _AUTHORIZE_FIX)
        return False
    except QboConnectionError as exc:
        report.add(
            "token refresh",
            FAIL,
            first_line(exc),
            "the OAuth endpoint cannot be reached: check QBO_ENVIRONMENT, QBO_CA_BUNDLE and "
            "the network/proxy",
        )
        return False
    except QboConfigError as exc:
        report.add("token refresh", FAIL, first_line(exc), f"correct {exc.variable}")
        return False
    except QboError as exc:
        report.add(
            "token refresh",
            FAIL,
            first_line(exc),
            "check QBO_CLIENT_ID / QBO_CLIENT_SECRET and QBO_ENVIRONMENT",
        )
        return False
    finally:
        if auth is not None:
            auth.close()
    rotated = " (refresh token rotated)" if after.refresh_token != before.refresh_token else ""
    report.add(
        "token refresh", OK, f"new access token; saved to {settings.token_store_path}{rotated}"
    )
    return after.refresh_token_expires_at


def reauthorize_by(expires_at: float) -> tuple[str, int]:
    """The re-authorization date (UTC, ``YYYY-MM-DD``) and the whole days left until then."""
    day = datetime.fromtimestamp(expires_at, UTC).date().isoformat()
    return day, int((expires_at - time.time()) // 86400)


def _reauthorization(expires_at: float | None, report: Report) -> None:
    if expires_at is None:
        report.add("re-authorization", OK, "QuickBooks announced no refresh-token expiry")
        return
    day, days = reauthorize_by(expires_at)
    detail = (
        f"the refresh token expires {day} (in {days} days) unless QuickBooks extends it at a "
        "refresh (~100 days rolling, 5 years at most)"
    )
    if days < REAUTHORIZE_WARNING_DAYS:
        report.add("re-authorization", WARN, detail, f"run `qbpa authorize` before {day}")
    else:
        report.add("re-authorization", OK, detail)


def _company(settings: QboSettings, report: Report) -> None:
    from qbpa_assets.lib.quickbooks.client import QboClient
    from qbpa_assets.lib.quickbooks.errors import QboError

    try:
        with QboClient(settings, logger=logger, backoff_base=0.2, backoff_cap=2.0) as client:
            info = client.company_info()
            prefs = client.preferences()
    except QboError as exc:
        report.add(
            "company",
            FAIL,
            first_line(exc),
            "check QBO_REALM_ID (the company id), QBO_API_BASE_URL and that the app is "
            "connected to this company (`qbpa authorize`)",
        )
        report.skip(("minor version", "custom transaction numbers"), "no API access")
        return
    name = info.get("CompanyName") or info.get("LegalName") or "(no name)"
    report.add("company", OK, f"{name!r} (realm {settings.realm_id})")
    minor = settings.minor_version
    if minor < MIN_MINOR_VERSION:
        report.add(
            "minor version",
            WARN,
            f"{minor}: Intuit no longer serves minor versions below {MIN_MINOR_VERSION}",
            f"set QBO_MINOR_VERSION={MIN_MINOR_VERSION} (or unset it)",
        )
    else:
        report.add("minor version", OK, f"{minor}, accepted by the API")
    custom = (prefs.get("SalesFormsPrefs") or {}).get("CustomTxnNumbers")
    if custom is True:
        report.add("custom transaction numbers", OK, "on")
    elif custom is False:
        report.add("custom transaction numbers", FAIL, "off", _CUSTOM_TXN_FIX)
    else:
        report.add(
            "custom transaction numbers",
            WARN,
            "QuickBooks did not report SalesFormsPrefs.CustomTxnNumbers",
            _CUSTOM_TXN_FIX,
        )


__all__ = ["SKIP", "check_quickbooks", "reauthorize_by"]
