"""The refresh-token expiry alert, against a real token store and a real local webhook."""

from __future__ import annotations

import time

import dagster as dg
import pytest

from qbpa_assets.defs.alerts.token_expiry import qbpa_token_expiry_alert
from qbpa_assets.defs.resources.quickbooks import QuickBooksResource
from qbpa_assets.lib.quickbooks.tokens import TokenState, TokenStore

DAY = 86400


def _store(tmp_path, days_left: float | None) -> None:
    expires = None if days_left is None else time.time() + days_left * DAY
    TokenStore(tmp_path / "qbo_tokens.json").save(
        TokenState(
            refresh_token="rt-secret-1234", realm_id="9130", refresh_token_expires_at=expires
        )
    )


def _tick(tmp_path, cursor: str | None = None):
    context = dg.build_sensor_context(
        cursor=cursor, resources={"quickbooks": QuickBooksResource(data_dir=str(tmp_path))}
    )
    return qbpa_token_expiry_alert(context), context.cursor


@pytest.fixture
def hook(webhook, monkeypatch):
    monkeypatch.setenv("QBPA_ALERT_WEBHOOK_URL", webhook.url)
    monkeypatch.delenv("QBPA_SMTP_URL", raising=False)
    return webhook


def test_alerts_14_days_ahead_once_a_day(tmp_path, hook):
    _store(tmp_path, days_left=30)
    result, cursor = _tick(tmp_path)
    assert "30 days left" in result.skip_message or "29 days left" in result.skip_message
    assert hook.payloads() == []

    _store(tmp_path, days_left=10.5)
    result, cursor = _tick(tmp_path, cursor)
    [payload] = hook.payloads()
    assert payload["kind"] == "token_expiry" and payload["days_left"] == 10
    assert "qbpa authorize" in payload["text"] and payload["realm_id"] == "9130"
    assert "rt-secret-1234" not in str(payload)
    # The same day: no second message.
    result, cursor = _tick(tmp_path, cursor)
    assert "already alerted today" in result.skip_message and len(hook.payloads()) == 1


def test_an_expired_token_is_an_error_alert(tmp_path, hook):
    _store(tmp_path, days_left=-1)
    _tick(tmp_path)
    [payload] = hook.payloads()
    assert payload["severity"] == "error" and "expired" in payload["title"]


@pytest.mark.parametrize("days_left", [None, "no store"])
def test_nothing_to_judge_is_a_skip(tmp_path, hook, days_left):
    if days_left is None:
        _store(tmp_path, None)
    result, _ = _tick(tmp_path)
    assert isinstance(result, dg.SkipReason) and hook.payloads() == []


def test_the_sensor_is_in_the_code_location():
    from qbpa_assets.definitions import defs

    sensor = defs().resolve_sensor_def("qbpa_token_expiry_alert")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
