"""The one redactor: known values, credential-shaped fragments, connection strings and URLs."""

from __future__ import annotations

import pytest

from qbpa_assets.lib import redact as r

CLIENT_SECRET = "client-secret-value-123"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("login to sftp://user:hunter2pw@host/dir failed", "hunter2pw"),
        ("DRIVER={PostgreSQL Unicode};PWD=s3cretpw;UID=x", "s3cretpw"),
        ("[08001] login failed (PWD={a;b}}c}) for user x", "a;b}}c"),
        ('{"refresh_token": "AB11-refresh-value"}', "AB11-refresh-value"),
        ("password='quoted pw'", "quoted"),
        ("Authorization: Bearer abcdef123456", "abcdef123456"),
        ("the secret is " + CLIENT_SECRET, CLIENT_SECRET),
        ("posted to https://hooks.example/x?k=" + "client-secret-value-123", CLIENT_SECRET),
        ("encoded: client%2Bsecret%2F1", "client%2Bsecret%2F1"),
    ],
)
def test_redact_removes_credentials(text: str, secret: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QBO_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("INVENTIV_FTP_PASSWORD", "client+secret/1")
    cleaned = r.redact(text)
    assert secret not in cleaned
    assert r.MASK in cleaned


def test_driver_message_keeps_what_went_wrong():
    text = "[28000] PWD=hunter22 rejected: password authentication failed for user 'qbpa'"
    cleaned = r.Redactor(["hunter22"])(text)
    assert "hunter22" not in cleaned
    assert "authentication failed for user 'qbpa'" in cleaned


def test_ordinary_text_and_short_values_are_kept():
    assert r.redact("Customer 42 not found in QuickBooks", secrets=[]) == (
        "Customer 42 not found in QuickBooks"
    )
    assert r.Redactor(["abc", None, ""])("abc is fine") == "abc is fine"


def test_redactor_learns_values_and_can_skip_patterns():
    redactor = r.Redactor(patterns=False)
    redactor.add("rotated-refresh-token-1")
    assert redactor("got rotated-refresh-token-1, pwd=x") == "got ***, pwd=x"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("Driver=X;Uid=u;PWD=hunter2;Database=d", "Driver=X;Uid=u;PWD=***;Database=d"),
        ("Driver=X;pwd = {a;b}}c};Server=s", "Driver=X;pwd=***;Server=s"),
        ("Driver=X;Password=p@ss word", "Driver=X;Password=***"),
        ("Driver=SQLite3;Database=/x.db", "Driver=SQLite3;Database=/x.db"),
    ],
)
def test_mask_connection_string(raw: str, masked: str):
    assert r.mask_connection_string(raw) == masked


def test_connection_string_secrets_unbraces():
    assert r.connection_string_secrets("Driver=X;PWD={a;b}}c};Password=plain") == ["a;b}c", "plain"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sftp://user:pw@host:2222/in?x=1#f", "sftp://user@host:2222/in"),
        ("ftp://host/dir", "ftp://host/dir"),
        ("file:///srv/drop", "file:///srv/drop"),
    ],
)
def test_url_without_password(url: str, shown: str):
    assert r.url_without_password(url) == shown
