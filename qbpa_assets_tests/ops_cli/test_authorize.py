"""``qbpa authorize`` end to end against the emulator's OAuth endpoints."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from qbpa_assets.lib.quickbooks.client import QboClient
from qbpa_assets.lib.quickbooks.settings import QboSettings
from qbpa_assets.lib.quickbooks.tokens import TokenStore


def run_authorize(emu, data_dir: Path, *args: str, **popen) -> subprocess.Popen:
    """``qbpa authorize ARGS`` with the emulator's app keys but no refresh token or realm."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
    env.update(emu.env())
    env.pop("QBO_REFRESH_TOKEN", None)
    env.pop("QBO_REALM_ID", None)
    env["QBPA_DATA_DIR"] = str(data_dir)
    return subprocess.Popen(
        [sys.executable, "-m", "qbpa_assets.cli", "authorize", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def start_authorize(emu, data_dir: Path, *extra: str) -> subprocess.Popen:
    return run_authorize(emu, data_dir, "--port", "0", *extra)


def read_url(proc: subprocess.Popen, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.strip().startswith("https://"):
            return line.strip()
    proc.kill()
    raise AssertionError("qbpa authorize printed no URL: " + proc.stderr.read())


def assert_works_from_the_store_alone(emu, data_dir: Path) -> None:
    """A client without QBO_REFRESH_TOKEN works from the token store in ``data_dir`` alone."""
    settings = QboSettings.from_env({**emu.env(), "QBPA_DATA_DIR": str(data_dir)})
    settings = QboSettings(**{**settings.__dict__, "refresh_token": None})
    with QboClient(settings) as client:
        assert client.count("Item") > 0


@pytest.mark.e2e
def test_authorize_stores_tokens(fresh_emulator, tmp_path):
    emu = fresh_emulator()
    proc = start_authorize(emu, tmp_path, "--timeout", "30")
    url = read_url(proc)
    assert "scope=com.intuit.quickbooks.accounting" in url and "state=" in url
    page = requests.get(url, verify=emu.ca_file, timeout=10)  # follows the 302 to the callback
    assert page.status_code == 200 and "connected" in page.text
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert emu.realm_id in out and "QBO_REALM_ID" in out
    store = TokenStore(tmp_path / "qbo_tokens.json")
    state = store.load()
    assert state.realm_id == emu.realm_id and state.access_token and state.refresh_token
    assert state.refresh_token not in out  # only printed with --show-refresh-token
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert_works_from_the_store_alone(emu, tmp_path)


@pytest.mark.e2e
def test_authorize_access_denied_stores_nothing(fresh_emulator, tmp_path):
    emu = fresh_emulator()
    emu.deny_consent(True)
    proc = start_authorize(emu, tmp_path, "--timeout", "30")
    requests.get(read_url(proc), verify=emu.ca_file, timeout=10)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "access_denied" in err
    assert not (tmp_path / "qbo_tokens.json").exists()


@pytest.mark.e2e
def test_authorize_wrong_state_stores_nothing(qbo_emulator, tmp_path):
    proc = start_authorize(qbo_emulator, tmp_path, "--timeout", "30")
    url = read_url(proc)
    callback = re.search(r"redirect_uri=([^&]+)", url).group(1)
    callback = requests.utils.unquote(callback)
    requests.get(callback, params={"code": "abc", "state": "forged", "realmId": "1"}, timeout=10)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "state" in err
    assert not (tmp_path / "qbo_tokens.json").exists()


@pytest.mark.e2e
def test_authorize_times_out(qbo_emulator, tmp_path):
    proc = start_authorize(qbo_emulator, tmp_path, "--timeout", "0.5")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "within" in err
    assert not (tmp_path / "qbo_tokens.json").exists()


def test_authorize_names_missing_client_id(tmp_path):
    from qbpa_assets.ops_cli import authorize

    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("QBO_")}
    try:
        assert authorize.main(["--port", "0", "--data-dir", str(tmp_path)]) == 1
    finally:
        os.environ.update(saved)


PRODUCTION_REDIRECT = "https://qbpa.example.com/intuit/callback"


def start_paste(emu, data_dir: Path) -> subprocess.Popen:
    return run_authorize(
        emu, data_dir, "--redirect-uri", PRODUCTION_REDIRECT, stdin=subprocess.PIPE
    )


def consent_redirect(emu, url: str) -> str:
    """What the browser would be sent to after consent (the emulator's 302 Location)."""
    answer = requests.get(url, verify=emu.ca_file, timeout=10, allow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


@pytest.mark.e2e
def test_paste_mode_for_production_keys_stores_tokens(fresh_emulator, tmp_path):
    """Production keys: an https redirect URI qbpa does not serve; the user pastes the URL."""
    emu = fresh_emulator()
    proc = start_paste(emu, tmp_path)
    url = read_url(proc)
    query = requests.utils.urlparse(url).query
    assert "redirect_uri=" + requests.utils.quote(PRODUCTION_REDIRECT, safe="") in query
    landed = consent_redirect(emu, url)
    assert landed.startswith(PRODUCTION_REDIRECT + "?") and "realmId=" in landed
    before = time.time()
    out, err = proc.communicate("  " + landed + "  \n", timeout=30)
    assert proc.returncode == 0, err
    assert emu.realm_id in out and "QBO_REALM_ID" in out
    state = TokenStore(tmp_path / "qbo_tokens.json").load()
    assert state.realm_id == emu.realm_id and state.access_token and state.refresh_token
    assert state.refresh_token not in out + err
    # The refresh token's hard expiry (x_refresh_token_expires_in, 101 days) is stored.
    assert 100 * 86400 < state.refresh_token_expires_at - before <= 101 * 86400 + 60
    assert time.strftime("%Y-%m-%d", time.gmtime(state.refresh_token_expires_at)) in out
    assert_works_from_the_store_alone(emu, tmp_path)


@pytest.mark.e2e
def test_paste_mode_refuses_a_forged_state_and_an_empty_paste(fresh_emulator, tmp_path):
    emu = fresh_emulator()
    proc = start_paste(emu, tmp_path)
    landed = consent_redirect(emu, read_url(proc))
    forged = re.sub(r"state=[^&]+", "state=forged", landed)
    _, err = proc.communicate(forged + "\n", timeout=30)
    assert proc.returncode == 1 and "state" in err
    proc = start_paste(emu, tmp_path)
    read_url(proc)
    _, err = proc.communicate("\n", timeout=30)
    assert proc.returncode == 1 and "nothing was pasted" in err
    assert not (tmp_path / "qbo_tokens.json").exists()


@pytest.mark.e2e
def test_paste_mode_needs_an_https_redirect_uri(qbo_emulator, tmp_path):
    from qbpa_assets.ops_cli import authorize

    assert authorize.parse_redirect("https://x/cb?code=a&state=b&realmId=1") == {
        "code": "a",
        "state": "b",
        "realmId": "1",
    }
    proc = start_authorize(qbo_emulator, tmp_path, "--redirect-uri", "http://qbpa.example.com/cb")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "https://" in err
    assert not (tmp_path / "qbo_tokens.json").exists()


@pytest.fixture(autouse=True)
def _no_leftover(tmp_path):
    yield
    leftovers = [p.name for p in tmp_path.glob(".qbo_tokens.json.*")]
    assert not leftovers
