"""OAuth conformance of the emulator, through the real intuit-oauth client."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from quickbooks.exceptions import AuthorizationException

from qbpa_assets_tests.fixtures.emulator import make_auth_client, make_quickbooks


def test_discovery_document_is_accepted_by_intuit_oauth(qbo_emulator):
    auth = make_auth_client(qbo_emulator)
    assert auth.token_endpoint.startswith(qbo_emulator.root_url)
    assert auth.revoke_endpoint.endswith("/oauth2/v1/tokens/revoke")
    assert auth.issuer_uri and auth.jwks_uri and auth.user_info_url
    log = qbo_emulator.request_log
    assert any(e["op"] == "discovery" and e["status"] == 200 for e in log)


def test_refresh_rotates_and_old_token_dies(qbo_emulator):
    auth = make_auth_client(qbo_emulator)
    first = qbo_emulator.issue_refresh_token()
    auth.refresh(refresh_token=first)
    assert auth.refresh_token and auth.refresh_token != first
    assert auth.access_token
    assert auth.expires_in == 3600
    assert auth.x_refresh_token_expires_in > 86400
    second = auth.refresh_token
    with pytest.raises(AuthClientError) as err:
        auth.refresh(refresh_token=first)
    assert err.value.status_code == 400
    assert err.value.response.json() == {"error": "invalid_grant"}
    auth.refresh(refresh_token=second)  # the rotated one still works exactly once
    assert auth.refresh_token != second


def test_unknown_refresh_token_is_invalid_grant(qbo_emulator):
    auth = make_auth_client(qbo_emulator)
    with pytest.raises(AuthClientError) as err:
        auth.refresh(refresh_token="AB11not-a-token")
    assert err.value.status_code == 400
    assert "invalid_grant" in err.value.content.decode()


def test_bad_client_secret_is_invalid_client(qbo_emulator):
    auth = make_auth_client(qbo_emulator)
    auth.client_secret = "wrong"
    with pytest.raises(AuthClientError) as err:
        auth.refresh(refresh_token=qbo_emulator.issue_refresh_token())
    assert err.value.status_code == 401
    assert err.value.response.json()["error"] == "invalid_client"


def test_refresh_grace_period_keeps_old_token_briefly(fresh_emulator):
    emu = fresh_emulator(refresh_grace_seconds=30.0)
    auth = make_auth_client(emu)
    token = emu.issue_refresh_token()
    auth.refresh(refresh_token=token)
    auth.refresh(refresh_token=token)  # still inside the grace period
    assert auth.refresh_token != token


def test_authorization_code_flow(qbo_emulator):
    auth = make_auth_client(qbo_emulator, redirect_uri="http://127.0.0.1:9/callback")
    url = auth.get_authorization_url([Scopes.ACCOUNTING], state_token="xyz")
    resp = requests.get(url, verify=qbo_emulator.ca_file, allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/callback"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["state"] == "xyz"
    assert query["realmId"] == qbo_emulator.realm_id
    auth.get_bearer_token(query["code"], realm_id=query["realmId"])
    assert auth.access_token and auth.refresh_token
    with pytest.raises(AuthClientError):  # codes are single use
        auth.get_bearer_token(query["code"])


def test_denied_consent_redirects_with_error(qbo_emulator):
    qbo_emulator.deny_consent(True)
    auth = make_auth_client(qbo_emulator, redirect_uri="http://127.0.0.1:9/cb")
    url = auth.get_authorization_url([Scopes.ACCOUNTING], state_token="s1")
    resp = requests.get(url, verify=qbo_emulator.ca_file, allow_redirects=False, timeout=10)
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query == {"error": ["access_denied"], "state": ["s1"]}


def test_revoke_kills_refresh_token(qbo_emulator):
    auth = make_auth_client(qbo_emulator)
    token = qbo_emulator.issue_refresh_token()
    assert auth.revoke(token=token)
    with pytest.raises(AuthClientError):
        auth.refresh(refresh_token=token)


def test_expired_access_token_gets_intuit_401(fresh_emulator):
    emu = fresh_emulator()
    qb = make_quickbooks(emu)
    assert qb.query("select count(*) from Item")["QueryResponse"]["totalCount"] > 0
    emu.expire_access_tokens()
    with pytest.raises(AuthorizationException) as err:
        qb.query("select count(*) from Item")
    assert err.value.error_code == 401
    body = err.value.detail
    assert '"fault":{"error":[{"message":"message=AuthenticationFailed; errorCode=003200' in body
    assert '"code":"3200"' in body and '"type":"AUTHENTICATION"' in body
    # A refresh gives a working access token again.
    qb.auth_client.refresh()
    qb.session.access_token = qb.auth_client.access_token
    qb.session.token = {"access_token": qb.auth_client.access_token, "token_type": "Bearer"}
    assert qb.query("select count(*) from Item")["QueryResponse"]["totalCount"] > 0


def test_access_token_ttl(fresh_emulator):
    emu = fresh_emulator(access_token_ttl=1)
    qb = make_quickbooks(emu)
    qb.query("select count(*) from Item")
    time.sleep(1.2)
    with pytest.raises(AuthorizationException):
        qb.query("select count(*) from Item")


def test_consent_redirects_to_an_https_uri_that_never_loads(qbo_emulator):
    # Production keys only take https redirect URIs; paste mode registers one that need not load.
    redirect = "https://qbpa.example.invalid/intuit/callback?tenant=acme"
    auth = make_auth_client(qbo_emulator, redirect_uri=redirect)
    url = auth.get_authorization_url([Scopes.ACCOUNTING], state_token="paste-1")
    resp = requests.get(url, verify=qbo_emulator.ca_file, allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith(redirect + "&")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert (query["state"], query["realmId"], query["tenant"]) == (
        "paste-1",
        qbo_emulator.realm_id,
        "acme",
    )
    auth.get_bearer_token(query["code"], realm_id=query["realmId"])  # the pasted URL's code
    assert auth.refresh_token
    other = make_auth_client(qbo_emulator, redirect_uri="https://elsewhere.example.invalid/cb")
    url = auth.get_authorization_url([Scopes.ACCOUNTING], state_token="paste-2")
    resp = requests.get(url, verify=qbo_emulator.ca_file, allow_redirects=False, timeout=10)
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    with pytest.raises(AuthClientError):  # a code is bound to the redirect URI it was sent to
        other.get_bearer_token(code)


def test_refresh_token_lifetime_is_announced_and_enforced(qbo_emulator):
    auth = make_auth_client(qbo_emulator)
    auth.refresh(refresh_token=qbo_emulator.issue_refresh_token())
    assert auth.x_refresh_token_expires_in == 8_726_400  # 101 days by default
    qbo_emulator.set_refresh_token_lifetime(3 * 86400)  # about to expire
    auth.refresh(refresh_token=auth.refresh_token)
    assert auth.x_refresh_token_expires_in == 3 * 86400
    qbo_emulator.set_clock(qbo_emulator.now + dt.timedelta(days=3, seconds=1))
    with pytest.raises(AuthClientError) as err:
        auth.refresh(refresh_token=auth.refresh_token)
    assert "invalid_grant" in str(err.value.content)


def test_refresh_token_lifetime_over_http_and_at_construction(fresh_emulator):
    emu = fresh_emulator(refresh_token_lifetime=600)
    auth = make_auth_client(emu)
    auth.refresh(refresh_token=emu.refresh_token)
    assert auth.x_refresh_token_expires_in == 600
    session = requests.Session()
    session.trust_env, session.verify = False, emu.ca_file
    answer = session.post(
        emu.admin_url + "/set_refresh_token_lifetime", json={"seconds": 42}, timeout=10
    )
    assert answer.status_code == 200
    auth.refresh(refresh_token=auth.refresh_token)
    assert auth.x_refresh_token_expires_in == 42
