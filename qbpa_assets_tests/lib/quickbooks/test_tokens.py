"""Token store and settings: pure tests (no server)."""

from __future__ import annotations

import json
import stat
import time

import pytest

from qbpa_assets.lib.quickbooks.errors import QboAuthError, QboConfigError, QboFault
from qbpa_assets.lib.quickbooks.faults import parse_xml_fault
from qbpa_assets.lib.quickbooks.settings import QboSettings
from qbpa_assets.lib.quickbooks.tokens import (
    TokenGrant,
    TokenManager,
    TokenState,
    TokenStore,
    hash_token,
)


class FakeRefresher:
    """Stands in for Intuit's token endpoint: rotates tokens, kills the old refresh token."""

    def __init__(self, valid: str) -> None:
        self.valid = {valid}
        self.calls = 0

    def __call__(self, refresh_token: str) -> TokenGrant:
        self.calls += 1
        if refresh_token not in self.valid:
            raise QboAuthError("invalid_grant", code="invalid_grant")
        self.valid.discard(refresh_token)
        new = f"rt-{self.calls}"
        self.valid.add(new)
        return TokenGrant(access_token=f"at-{self.calls}", refresh_token=new, expires_in=3600)


def manager(store: TokenStore, refresher: FakeRefresher, seed: str | None) -> TokenManager:
    return TokenManager(store, refresher, seed_refresh_token=seed, realm_id="123")


def test_store_file_is_private_and_atomic(tmp_path):
    store = TokenStore(tmp_path / "sub" / "qbo_tokens.json")
    store.save(TokenState(refresh_token="secret-rt", realm_id="1"))
    mode = stat.S_IMODE(store.path.stat().st_mode)
    assert mode == 0o600
    assert json.loads(store.path.read_text())["refresh_token"] == "secret-rt"
    # No temp files left behind.
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["qbo_tokens.json"]


def test_seed_rotation_and_reseed(tmp_path):
    store = TokenStore(tmp_path / "qbo_tokens.json")
    refresher = FakeRefresher("seed-1")
    tm = manager(store, refresher, "seed-1")
    assert tm.current() == "at-1"
    assert store.load().refresh_token == "rt-1"  # rotated token persisted
    assert store.load().seed_hash == hash_token("seed-1")
    assert "seed-1" not in store.path.read_text()  # the seed is stored as a hash only

    # A new process with the same (now dead) seed must use the store, not the seed.
    tm2 = manager(store, refresher, "seed-1")
    assert tm2.current() == "at-1"  # still valid: reused, no refresh
    assert refresher.calls == 1
    assert tm2.invalidate("at-1") == "at-2"  # 401 -> refresh with the stored rt-1
    assert store.load().refresh_token == "rt-2"

    # The user re-authorized and set a new seed: it replaces the store.
    refresher.valid.add("seed-2")
    tm3 = manager(store, refresher, "seed-2")
    assert tm3.current() == "at-3"
    assert store.load().seed_hash == hash_token("seed-2")
    assert hash_token("seed-1") in store.load().retired_seed_hashes


def test_authorize_grant_retires_old_env_seed(tmp_path):
    store = TokenStore(tmp_path / "qbo_tokens.json")
    refresher = FakeRefresher("old-seed")
    manager(store, refresher, "old-seed").current()
    # `qbpa authorize` writes a new authorization while QBO_REFRESH_TOKEN still holds the old one.
    refresher.valid.add("authorized-rt")
    store.record_grant(
        TokenGrant(access_token="at-auth", refresh_token="authorized-rt", expires_in=3600),
        previous=store.load(),
        realm_id="123",
        seed=True,
    )
    tm = manager(store, refresher, "old-seed")
    assert tm.current() == "at-auth"  # the stale env seed did not re-seed over it
    assert store.load().refresh_token == "authorized-rt"


def test_concurrent_managers_in_one_process_refresh_once(tmp_path):
    store = TokenStore(tmp_path / "qbo_tokens.json")
    refresher = FakeRefresher("seed")
    managers = [manager(store, refresher, "seed") for _ in range(3)]
    tokens = {m.current() for m in managers}
    assert tokens == {"at-1"}
    assert refresher.calls == 1


def test_expired_access_token_refreshes(tmp_path):
    store = TokenStore(tmp_path / "qbo_tokens.json")
    refresher = FakeRefresher("seed")
    tm = manager(store, refresher, "seed")
    tm.current()
    state = store.load()
    store.save(TokenState(**{**state.__dict__, "access_token_expires_at": time.time() - 1}))
    assert manager(store, refresher, "seed").current() == "at-2"


def test_missing_store_and_seed_names_variable(tmp_path):
    tm = manager(TokenStore(tmp_path / "t.json"), FakeRefresher("x"), None)
    with pytest.raises(QboConfigError, match="QBO_REFRESH_TOKEN"):
        tm.current()


def test_realm_mismatch_is_refused(tmp_path):
    store = TokenStore(tmp_path / "t.json")
    store.save(TokenState(refresh_token="rt", realm_id="999", seed_hash=hash_token("s")))
    tm = manager(store, FakeRefresher("rt"), "s")
    with pytest.raises(QboConfigError, match="QBO_REALM_ID"):
        tm.current()


def test_unreadable_store_is_reported(tmp_path):
    store = TokenStore(tmp_path / "t.json")
    store.path.write_text("{not json")
    with pytest.raises(Exception, match="unreadable"):
        store.load()


def test_settings_repr_hides_secrets(tmp_path):
    s = QboSettings(
        "cid", "the-secret", "1", refresh_token="the-refresh", token_store_path=tmp_path
    )
    assert "the-secret" not in repr(s)
    assert "the-refresh" not in repr(s)
    assert "cid" in repr(s)


@pytest.mark.parametrize(
    ("field", "variable"),
    [
        ("client_id", "QBO_CLIENT_ID"),
        ("client_secret", "QBO_CLIENT_SECRET"),
        ("realm_id", "QBO_REALM_ID"),
    ],
)
def test_missing_setting_names_variable(field, variable):
    values = {"client_id": "a", "client_secret": "b", "realm_id": "c", field: ""}
    with pytest.raises(QboConfigError, match=variable) as info:
        QboSettings(**values).validate()
    assert info.value.variable == variable


def test_settings_from_env():
    s = QboSettings.from_env(
        {
            "QBO_CLIENT_ID": "a",
            "QBO_CLIENT_SECRET": "b",
            "QBO_REALM_ID": "9",
            "QBO_ENVIRONMENT": "sandbox",
            "QBPA_DATA_DIR": "/data",
            "QBO_MINOR_VERSION": "76",
        }
    )
    assert s.realm_id == "9" and s.minor_version == 76
    assert str(s.token_store_path) == "/data/qbo_tokens.json"
    assert s.resolved_api_base_url == "https://sandbox-quickbooks.api.intuit.com/v3"
    with pytest.raises(QboConfigError, match="QBO_ENVIRONMENT"):
        QboSettings("a", "b", "c", environment="http://insecure").validate()


def test_xml_fault_parsing():
    body = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2024-01-01T00:00:00">'
        '<Fault type="ThrottleExceeded"><Error code="3001"><Message>message=ThrottleExceeded'
        "</Message><Detail>Too many requests</Detail></Error></Fault></IntuitResponse>"
    )
    ftype, errors = parse_xml_fault(body)
    assert ftype == "ThrottleExceeded"
    assert errors[0]["code"] == "3001" and errors[0]["detail"] == "Too many requests"
    fault = QboFault.from_errors(errors, fault_type=ftype, status=429, context="query")
    assert fault.code == "3001" and "Too many requests" in str(fault)
