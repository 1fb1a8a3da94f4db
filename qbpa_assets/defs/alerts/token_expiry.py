"""Alert before QuickBooks stops accepting the refresh token (hard expiry).

Intuit's refresh tokens expire (``x_refresh_token_expires_in``: about 100 days, renewed by each
refresh, and five years at most). The token store records the date with every grant; this
sensor reads it from the same store the runs use (the ``quickbooks`` resource's data folder)
and, from 14 days before that date, alerts once a day through :func:`lib.alerts.notify` until
someone runs ``qbpa authorize`` again. It never launches runs.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from qbpa_assets.defs.resources.quickbooks import QuickBooksResource
from qbpa_assets.lib.alerts import Alert, notify
from qbpa_assets.lib.quickbooks.errors import QboError
from qbpa_assets.lib.quickbooks.settings import TOKEN_STORE_FILE
from qbpa_assets.lib.quickbooks.tokens import TokenStore

WARNING_DAYS = 14
_DAY = 86400


def token_expiry_alert(
    expires_at: float, realm_id: str | None, now: float, ui_base_url: str = ""
) -> Alert:
    """The alert for a refresh token that dies at ``expires_at`` (epoch seconds)."""
    day = datetime.fromtimestamp(expires_at, UTC).date().isoformat()
    days = int((expires_at - now) // _DAY)
    company = f"QuickBooks company {realm_id}" if realm_id else "the QuickBooks company"
    if days < 0:
        title = f"qbpa: the QuickBooks authorization expired on {day}"
        text = (
            f":rotating_light: qbpa can no longer reach {company}: its refresh token expired on "
            f"{day}. Run `qbpa authorize` on the server (see README, Connecting a real company)."
        )
    else:
        title = f"qbpa: re-authorize QuickBooks before {day} ({days} days left)"
        text = (
            f":warning: {company} must be re-authorized before {day} ({days} days left): "
            "QuickBooks will then refuse the refresh token and every run will fail. Run "
            "`qbpa authorize` on the server (see README, Connecting a real company)."
        )
    return Alert(
        kind="token_expiry",
        severity="error" if days < 0 else "warning",
        title=title,
        text=text,
        fields={"expires_on": day, "days_left": days, "realm_id": realm_id or ""},
    )


@dg.sensor(
    name="qbpa_token_expiry_alert",
    minimum_interval_seconds=6 * 3600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Warns (webhook / e-mail) once a day from 14 days before the QuickBooks refresh token "
        "expires, until `qbpa authorize` is run again; never launches runs."
    ),
)
def qbpa_token_expiry_alert(
    context: dg.SensorEvaluationContext, quickbooks: QuickBooksResource
) -> dg.SkipReason:
    """Check the token store's refresh-token expiry; alert when it is 14 days away or past."""
    store = TokenStore(Path(quickbooks.data_dir).expanduser() / TOKEN_STORE_FILE)
    try:
        state = store.load()
    except QboError as exc:
        return dg.SkipReason(f"token store {store.path} unreadable: {exc}")
    if state is None:
        return dg.SkipReason(f"no token store at {store.path} yet (run `qbpa authorize`)")
    if state.refresh_token_expires_at is None:
        return dg.SkipReason("QuickBooks announced no refresh-token expiry")
    now = time.time()
    day = datetime.fromtimestamp(state.refresh_token_expires_at, UTC).date().isoformat()
    days = int((state.refresh_token_expires_at - now) // _DAY)
    if days >= WARNING_DAYS:
        return dg.SkipReason(f"re-authorization due by {day} ({days} days left)")
    today = datetime.fromtimestamp(now, UTC).date().isoformat()
    cursor = json.loads(context.cursor) if context.cursor else {}
    if cursor.get("alerted") == [day, today]:
        return dg.SkipReason(f"already alerted today: re-authorize before {day}")
    alert = token_expiry_alert(state.refresh_token_expires_at, state.realm_id, now)
    results = notify(alert)
    context.update_cursor(json.dumps({"alerted": [day, today]}))
    outcome = ", ".join(f"{c} {o}" for c, o in results.items()) or "no alert channel configured"
    context.log.warning(f"{alert.title}: {outcome}")
    return dg.SkipReason(f"{alert.title} ({outcome})")
