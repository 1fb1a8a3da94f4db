"""Fault injection, throttling, latency, dropped connections, routing and the request log."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import time

import pytest
import requests
from quickbooks.exceptions import QuickbooksException, SevereException, ValidationException

from qbpa_assets.sandbox.faults import CATALOGUE
from qbpa_assets_tests.fixtures.emulator import make_quickbooks


@pytest.fixture(scope="module")
def qb(qbo_emulator):
    return make_quickbooks(qbo_emulator)


def _raw(emu, qb, path, method="GET", **kwargs):
    return requests.request(
        method,
        f"{emu.base_url}/company/{emu.realm_id}/{path}",
        headers={
            "Authorization": f"Bearer {qb.session.access_token}",
            "Accept": "application/json",
        },
        verify=emu.ca_file,
        timeout=10,
        **kwargs,
    )


def test_429_json_fault(qbo_emulator, qb):
    qbo_emulator.inject_fault(status=429, count=2, path_contains="/query")
    for _ in range(2):
        with pytest.raises(ValidationException) as err:
            qb.query("select count(*) from Item")
        assert err.value.error_code == 3001
    assert qb.query("select count(*) from Item")["QueryResponse"]["totalCount"] > 0
    statuses = [e["status"] for e in qbo_emulator.request_log if e["op"] == "query"][-3:]
    assert statuses == [429, 429, 200]


def test_429_xml_fault(qbo_emulator, qb):
    qbo_emulator.inject_fault(status=429, xml=True)
    resp = _raw(qbo_emulator, qb, "item/1")
    assert resp.status_code == 429
    assert resp.headers["Content-Type"].startswith("application/xml")
    assert '<Fault type="ThrottleExceeded"><Error code="3001">' in resp.text
    assert resp.text.startswith("<?xml")
    assert _raw(qbo_emulator, qb, "item/1").status_code == 200


def test_only_matching_paths_fail(qbo_emulator, qb):
    qbo_emulator.inject_fault(status=500, count=1, path_contains="/batch")
    assert _raw(qbo_emulator, qb, "item/1").status_code == 200
    qbo_emulator.clear_faults()
    assert _raw(qbo_emulator, qb, "batch", "POST", json={"BatchItemRequest": []}).status_code == 200


def test_500_and_503(qbo_emulator, qb):
    qbo_emulator.inject_fault(status=500)
    with pytest.raises(SevereException) as err:
        qb.query("select count(*) from Item")
    assert err.value.error_code == 10000
    qbo_emulator.inject_fault(status=503)
    with pytest.raises(QuickbooksException):
        qb.query("select count(*) from Item")
    assert qbo_emulator.request_log[-1]["status"] == 503


def test_dropped_connection(qbo_emulator, qb):
    qbo_emulator.inject_fault(kind="drop")
    with pytest.raises(requests.ConnectionError):
        qb.query("select count(*) from Item")
    assert qb.query("select count(*) from Item")["QueryResponse"]["totalCount"] > 0


def test_latency(qbo_emulator, qb):
    qbo_emulator.set_latency(0.3)
    start = time.monotonic()
    qb.query("select count(*) from Item")
    assert time.monotonic() - start >= 0.3


def test_wrong_realm_and_unknown_paths(qbo_emulator, qb):
    resp = requests.get(
        f"{qbo_emulator.base_url}/company/123/item/1",
        headers={"Authorization": f"Bearer {qb.session.access_token}"},
        verify=qbo_emulator.ca_file,
        timeout=10,
    )
    assert resp.status_code == 403
    assert resp.json()["Fault"]["Error"][0]["code"] == "3100"
    assert _raw(qbo_emulator, qb, "nosuchthing/1").status_code == 404
    resp = requests.get(qbo_emulator.root_url + "/nowhere", verify=qbo_emulator.ca_file, timeout=10)
    assert resp.status_code == 404
    read = _raw(qbo_emulator, qb, "invoice/99999999")
    assert read.status_code == 400 and read.json()["Fault"]["Error"][0]["code"] == "610"


def test_missing_bearer_is_401(qbo_emulator):
    resp = requests.get(
        f"{qbo_emulator.base_url}/company/{qbo_emulator.realm_id}/item/1",
        verify=qbo_emulator.ca_file,
        timeout=10,
    )
    assert resp.status_code == 401
    assert resp.json()["fault"]["error"][0]["code"] == "3200"


def test_request_log_records_ops(qbo_emulator, qb):
    qbo_emulator.reset_request_log()
    qb.query("select * from Customer maxresults 2")
    _raw(qbo_emulator, qb, "customer/1")
    log = qbo_emulator.request_log
    assert [(e["op"], e["entity"], e["status"]) for e in log] == [
        ("query", "Customer", 200),
        ("read", "Customer", 200),
    ]
    assert set(log[0]) == {
        "ts",
        "method",
        "path",
        "op",
        "entity",
        "status",
        "requestid",
        "batch_size",
    }


def test_keep_alive_reuses_connection(qbo_emulator, qb):
    session = requests.Session()
    session.trust_env = False
    url = f"{qbo_emulator.base_url}/company/{qbo_emulator.realm_id}/item/1"
    headers = {"Authorization": f"Bearer {qb.session.access_token}"}
    first = session.get(url, headers=headers, verify=qbo_emulator.ca_file, timeout=10)
    sock = first.raw._connection.sock if first.raw._connection else None
    second = session.get(url, headers=headers, verify=qbo_emulator.ca_file, timeout=10)
    assert first.status_code == second.status_code == 200
    assert first.headers.get("Connection", "").lower() != "close"
    assert sock is None or second.raw._connection is None or second.raw._connection.sock is sock


def test_concurrency_limit(fresh_emulator):
    emu = fresh_emulator(enforce_limits=True)
    qb = make_quickbooks(emu)
    emu.set_latency(0.4)
    token = qb.session.access_token
    url = f"{emu.base_url}/company/{emu.realm_id}/item/1"

    def call(_):
        return requests.get(
            url, headers={"Authorization": f"Bearer {token}"}, verify=emu.ca_file, timeout=20
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(14) as pool:
        statuses = list(pool.map(call, range(14)))
    assert statuses.count(200) == 10
    assert statuses.count(429) == 4


def test_rate_and_batch_limits(fresh_emulator):
    emu = fresh_emulator(enforce_limits=True)
    qb = make_quickbooks(emu)
    body = '{"BatchItemRequest": [{"bId": "1", "Query": "select count(*) from Item"}]}'
    for _ in range(40):
        qb.batch_operation(body)
    with pytest.raises(ValidationException) as err:
        qb.batch_operation(body)
    assert err.value.error_code == 3001
    session = requests.Session()
    session.trust_env = False
    url = f"{emu.base_url}/company/{emu.realm_id}/item/1"
    headers = {"Authorization": f"Bearer {qb.session.access_token}"}
    statuses = [
        session.get(url, headers=headers, verify=emu.ca_file, timeout=10).status_code
        for _ in range(465)
    ]
    # 40 accepted batches + 460 reads fill the 500/minute budget (refusals do not count).
    assert statuses.count(429) == 5
    emu.set_limits(False)
    assert session.get(url, headers=headers, verify=emu.ca_file, timeout=10).status_code == 200


def test_fault_inside_200_and_admin_http_controls(qbo_emulator, qb):
    session = requests.Session()
    session.trust_env = False
    session.verify = qbo_emulator.ca_file
    resp = session.post(
        qbo_emulator.admin_url + "/inject_fault",
        json={"status": 200, "count": 1, "path_contains": "/query"},
        timeout=10,
    )
    assert resp.status_code == 200
    with pytest.raises(SevereException):  # a 200 response may still carry a Fault
        qb.query("select count(*) from Item")
    session.post(qbo_emulator.admin_url + "/inject_fault", json={"status": 429}, timeout=10)
    session.post(qbo_emulator.admin_url + "/clear_faults", json={}, timeout=10)
    assert qb.query("select count(*) from Item")["QueryResponse"]["totalCount"] > 0


def test_429_with_retry_after(qbo_emulator, qb):
    qbo_emulator.inject_fault(status=429, count=1, path_contains="/item/", retry_after=7)
    resp = _raw(qbo_emulator, qb, "item/1")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
    assert resp.json()["Fault"]["Error"][0]["code"] == "3001"
    qbo_emulator.inject_fault(status=429, xml=True, retry_after=2.5)
    resp = _raw(qbo_emulator, qb, "item/1")
    assert resp.headers["Retry-After"] == "2.5" and '<Error code="3001">' in resp.text
    assert "Retry-After" not in _raw(qbo_emulator, qb, "item/1").headers


def test_throttle_window_follows_the_emulator_clock(qbo_emulator, qb):
    emu = qbo_emulator
    emu.set_clock(emu.now)  # frozen: only moving it ends the window
    emu.throttle_for(95)
    for _ in range(3):
        with pytest.raises(ValidationException) as err:
            qb.query("select count(*) from Item")
        assert err.value.error_code == 3001
    resp = _raw(emu, qb, "item/1")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "95"
    emu.set_clock(emu.now + dt.timedelta(seconds=60.5))
    assert _raw(emu, qb, "item/1").headers["Retry-After"] == "35"  # whole seconds, rounded up
    emu.set_clock(emu.now + dt.timedelta(seconds=35))
    assert qb.query("select count(*) from Item")["QueryResponse"]["totalCount"] > 0
    assert [e["status"] for e in emu.request_log[-6:]] == [429] * 5 + [200]


def test_throttle_window_over_http_and_cleared(qbo_emulator, qb):
    session = requests.Session()
    session.trust_env, session.verify = False, qbo_emulator.ca_file
    answer = session.post(
        qbo_emulator.admin_url + "/throttle_for",
        json={"seconds": 300, "retry_after": False},
        timeout=10,
    )
    assert answer.status_code == 200
    resp = _raw(qbo_emulator, qb, "item/1")
    assert resp.status_code == 429 and "Retry-After" not in resp.headers
    assert requests.get(qbo_emulator.discovery_url, verify=qbo_emulator.ca_file, timeout=10).ok
    qbo_emulator.clear_faults()
    assert _raw(qbo_emulator, qb, "item/1").status_code == 200


def test_every_fault_comes_from_the_catalogue():
    codes = [(kind.code, kind.message) for kind in CATALOGUE]
    assert len(set(codes)) == len(codes)
    assert {kind.code for kind in CATALOGUE} >= {"610", "2010", "2020", "2050", "3001", "5010"}
