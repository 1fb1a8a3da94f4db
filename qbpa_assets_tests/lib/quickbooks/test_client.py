"""QboClient against the QBO emulator over HTTPS (real python-quickbooks + intuit-oauth code)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from qbpa_assets.lib.quickbooks.client import QboClient
from qbpa_assets.lib.quickbooks.errors import (
    QboAuthError,
    QboConfigError,
    QboConnectionError,
    QboFault,
    QboRetriesExhausted,
)
from qbpa_assets.lib.quickbooks.ratelimit import SlidingWindow
from qbpa_assets.lib.quickbooks.settings import QboSettings
from qbpa_assets.lib.quickbooks.tokens import TokenStore
from qbpa_assets_tests.fixtures.emulator import one_line_estimate
from qbpa_assets_tests.fixtures.stack import emulator_credentials

FAST = {"backoff_base": 0.01, "backoff_cap": 0.05}
ALL = "Active IN (true, false)"


def make_settings(emu, tmp_path: Path, **overrides) -> QboSettings:
    values = {**emulator_credentials(emu), "max_retries": 4, "timeout": 10.0, **overrides}
    values.setdefault("token_store_path", tmp_path / "qbo_tokens.json")
    return QboSettings(**values)


def ops(emu, op: str) -> list[dict]:
    return [e for e in emu.request_log if e.get("op") == op]


def test_round_trip_reads(qbo_emulator, tmp_path):
    emu = qbo_emulator
    with QboClient(make_settings(emu, tmp_path), **FAST) as client:
        customers = emu.entities("Customer")
        total = client.count("Customer", ALL)
        assert total == len(customers)
        active = client.count("Customer")
        assert active == sum(1 for c in customers if c.get("Active", True))
        first = sorted(customers, key=lambda c: int(c["Id"]))[0]
        assert client.read("Customer", first["Id"])["DisplayName"] == first["DisplayName"]
        page = client.query(f"SELECT * FROM Customer WHERE Id = '{first['Id']}'")
        assert page["Customer"][0]["Id"] == first["Id"]
        assert client.preferences()["SalesFormsPrefs"]["CustomTxnNumbers"] in (True, False)
        assert client.company_info()["CompanyName"]
        since = datetime.now(UTC) - timedelta(days=20)
        changed = client.cdc(["Invoice", "Customer"], since)
        assert set(changed) == {"Invoice", "Customer"}
        assert changed["Invoice"], "the sample company changed invoices in the window"
        with pytest.raises(QboFault) as info:
            client.read("Customer", "99999999")
        assert info.value.code == "610"
        assert client.stats["query"] >= 3 and client.stats["requests"] >= 7


def test_create_batch_and_requestid(fresh_emulator, tmp_path):
    emu = fresh_emulator()
    estimate = one_line_estimate(emu, "QBPA-T1", qty=2, unit_price=10.0)
    with QboClient(make_settings(emu, tmp_path), **FAST) as client:
        created = client.create("Estimate", estimate, request_id="qbpa-test-1")
        again = client.create("Estimate", estimate, request_id="qbpa-test-1")
        assert created["Id"] == again["Id"]
        assert len([e for e in emu.entities("Estimate") if e.get("DocNumber") == "QBPA-T1"]) == 1

        results = client.batch(
            [
                {"bId": "1", "operation": "create", "Estimate": {**estimate, "DocNumber": "B-1"}},
                {"bId": "2", "operation": "create", "Estimate": {"DocNumber": "B-2", "Line": []}},
                {"bId": "3", "Query": "SELECT * FROM Estimate WHERE DocNumber = 'QBPA-T1'"},
            ],
            request_id="qbpa-batch-1",
        )
        by_id = {r["bId"]: r for r in results}
        assert by_id["1"]["Estimate"]["DocNumber"] == "B-1"
        assert "Fault" in by_id["2"]  # per-item faults are returned, not raised
        assert by_id["3"]["QueryResponse"]["Estimate"][0]["Id"] == created["Id"]

        with pytest.raises(QboFault) as info:  # duplicate DocNumber (CustomTxnNumbers on)
            client.create("Estimate", estimate, request_id="qbpa-test-2")
        assert info.value.code == "6140"
        with pytest.raises(ValueError):
            client.batch([{"bId": str(i)} for i in range(31)], request_id="x")


def test_rotation_survives_restart(fresh_emulator, tmp_path):
    emu = fresh_emulator(refresh_grace_seconds=0.0)
    settings = make_settings(emu, tmp_path)
    with QboClient(settings, **FAST) as client:
        client.count("Item")
        assert client.stats["refreshes"] == 1
    stored = TokenStore(settings.token_store_path).load()
    assert stored.refresh_token != settings.refresh_token  # rotated and persisted
    assert stat.S_IMODE(settings.token_store_path.stat().st_mode) == 0o600
    emu.expire_access_tokens()
    # A new "process" with the same (now dead) seed in its environment.
    with QboClient(settings, **FAST) as client:
        assert client.count("Item") >= 1
        assert client.stats["refreshes"] == 1
    assert not any(e["status"] == 400 for e in ops(emu, "token")), "no invalid_grant"


def test_401_refreshes_once_and_retries(fresh_emulator, tmp_path):
    emu = fresh_emulator()
    with QboClient(make_settings(emu, tmp_path), **FAST) as client:
        client.count("Customer")
        emu.expire_access_tokens()
        emu.reset_request_log()
        assert client.count("Customer") > 0
        assert client.stats["refreshes"] == 2
        assert [e["status"] for e in emu.request_log if e["op"] == "query"] == [401, 200]


_CHILD = r"""
import json, os, sys, time
from qbpa_assets.lib.quickbooks.client import QboClient
from qbpa_assets.lib.quickbooks.settings import QboSettings
start_at = float(sys.argv[1])
settings = QboSettings.from_env()
client = QboClient(settings, backoff_base=0.01, backoff_cap=0.05)
time.sleep(max(0.0, start_at - time.time()))
n = client.count("Customer")
print(json.dumps({"count": n, "refreshes": client.stats["refreshes"]}))
"""


def test_processes_refreshing_at_once_never_get_invalid_grant(fresh_emulator, tmp_path):
    emu = fresh_emulator(refresh_grace_seconds=0.0)
    settings = make_settings(emu, tmp_path)
    with QboClient(settings, **FAST) as client:
        client.count("Customer")  # seeds the store and obtains an access token
    emu.expire_access_tokens()
    emu.reset_request_log()
    env = {
        **os.environ,
        **emu.env(),
        "QBO_REFRESH_TOKEN": settings.refresh_token,  # the same (dead) seed everywhere
        "QBPA_DATA_DIR": str(tmp_path),
    }
    start_at = str(time.time() + 1.5)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, start_at],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err[-2000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert len({r["count"] for r in results}) == 1
    tokens = ops(emu, "token")
    assert all(e["status"] == 200 for e in tokens), tokens
    assert sum(r["refreshes"] for r in results) == len(tokens) == 1  # one refresh served all


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429},
        {"status": 429, "xml": True},
        {"status": 500},
        {"status": 503},
        {"status": 503, "kind": "drop"},
    ],
    ids=["429-json", "429-xml", "500", "503", "drop"],
)
def test_transient_failures_are_retried(qbo_emulator, tmp_path, fault):
    emu = qbo_emulator
    with QboClient(make_settings(emu, tmp_path), **FAST) as client:
        client.count("Item")  # get a token first
        emu.inject_fault(count=2, path_contains="/query", **fault)
        try:
            assert client.count("Item") > 0
        finally:
            emu.clear_faults()
        assert client.stats["retries"] == 2


def test_retries_exhausted_is_a_clear_failure(qbo_emulator, tmp_path):
    emu = qbo_emulator
    with QboClient(make_settings(emu, tmp_path, max_retries=2), **FAST) as client:
        client.count("Item")
        emu.inject_fault(status=503, count=50, path_contains="/query")
        try:
            with pytest.raises(QboRetriesExhausted) as info:
                client.count("Item")
        finally:
            emu.clear_faults()
    assert info.value.attempts == 3
    assert "gave up after 3 attempts" in str(info.value) and "503" in str(info.value)


def test_bad_refresh_token_says_reauthorize(qbo_emulator, tmp_path):
    emu = qbo_emulator
    settings = make_settings(emu, tmp_path, refresh_token="not-a-valid-refresh-token")
    with QboClient(settings, **FAST) as client, pytest.raises(QboAuthError) as info:
        client.count("Item")
    assert info.value.code == "invalid_grant"
    assert "qbpa authorize" in str(info.value) and "QBO_REFRESH_TOKEN" in str(info.value)
    assert "not-a-valid-refresh-token" not in str(info.value)


def test_missing_variable_is_named(qbo_emulator, tmp_path):
    settings = make_settings(qbo_emulator, tmp_path, client_id="")
    with pytest.raises(QboConfigError, match="QBO_CLIENT_ID"):
        QboClient(settings)


def test_wrong_ca_fails_tls(qbo_emulator, tmp_path):
    emu = qbo_emulator
    system_ca = "/etc/ssl/certs/ca-certificates.crt"
    if not Path(system_ca).is_file():
        pytest.skip("no system CA bundle to use as the wrong CA")
    # The OAuth side (discovery document, fetched inside AuthClient.__init__).
    wrong = make_settings(emu, tmp_path / "a", ca_bundle=system_ca)
    with QboClient(wrong, **FAST) as client, pytest.raises(QboConnectionError) as info:
        client.count("Item")
    assert "TLS" in str(info.value) and info.value.code == "tls"
    # The API side: a valid access token is in the store, so only the API call is made.
    good = make_settings(emu, tmp_path / "b")
    with QboClient(good, **FAST) as client:
        client.count("Item")
    wrong_api = dataclasses.replace(good, ca_bundle=system_ca)
    with QboClient(wrong_api, **FAST) as client, pytest.raises(QboConnectionError) as info:
        client.count("Item")
    assert info.value.code == "tls" and emu.base_url.split("/v3")[0] in str(info.value)


def test_no_secret_in_logs_or_errors(fresh_emulator, tmp_path, caplog):
    emu = fresh_emulator(refresh_grace_seconds=0.0)
    settings = make_settings(emu, tmp_path)
    caplog.set_level(logging.DEBUG)
    errors = []
    with QboClient(settings, logger=logging.getLogger("qbpa.test"), **FAST) as client:
        client.count("Item")
        emu.expire_access_tokens()
        emu.inject_fault(status=429, count=1, path_contains="/query")
        client.count("Item")
        try:
            client.read("Item", "424242")
        except QboFault as exc:
            errors.append(exc)
    state = TokenStore(settings.token_store_path).load()
    bad = make_settings(emu, tmp_path / "bad", refresh_token=settings.refresh_token)
    with QboClient(bad, **FAST) as client:  # the seed was rotated away: invalid_grant
        try:
            client.count("Item")
        except QboAuthError as exc:
            errors.append(exc)
    assert len(errors) == 2
    secrets = [emu.client_secret, settings.refresh_token, state.refresh_token, state.access_token]
    texts = [caplog.text, repr(settings), repr(client)] + [str(e) + repr(e) for e in errors]
    for secret in secrets:
        assert secret and all(secret not in text for text in texts)
    assert "refreshing the QuickBooks access token" in caplog.text
    assert "retrying" in caplog.text


def test_extract_pages_uses_count_plus_minimal_pages(fresh_emulator, tmp_path):
    emu = fresh_emulator(customers=2500, items=10, invoices=10)
    total = len(emu.entities("Customer"))
    assert total == 2500
    with QboClient(make_settings(emu, tmp_path), **FAST) as client:
        client.count("Item")  # token first, so the log below holds only the extraction
        emu.reset_request_log()
        result = client.extract_pages("Customer", tmp_path / "pages", where=ALL)
    queries = ops(emu, "query")
    assert len(queries) == 4 and len(emu.request_log) == 4  # 1 COUNT + 3 pages, nothing else
    assert result.rows == 2500 and result.pages == 3 and result.api_calls == 4
    assert [p.name for p in result.files] == [f"page-0000{i}.json" for i in (1, 2, 3)]
    con = duckdb.connect()
    ids = con.execute(
        "SELECT count(*), count(DISTINCT e ->> 'Id') FROM ("
        " SELECT unnest(CAST(json_extract(content, '$.QueryResponse.Customer') AS JSON[])) AS e"
        " FROM read_text(?))",
        [[str(p) for p in result.files]],
    ).fetchone()
    assert ids == (2500, 2500)


def test_extract_pages_keeps_going_after_a_full_last_page(qbo_emulator, tmp_path):
    emu = qbo_emulator
    total = len(emu.entities("Item"))
    size = next(s for s in (10, 5, 3, 2, total) if total % s == 0 and total // s <= 10)
    with QboClient(make_settings(emu, tmp_path, max_concurrency=3), **FAST) as client:
        client.count("Item")
        (tmp_path / "pages").mkdir()
        (tmp_path / "pages" / "page-00099.json").write_text("stale")
        result = client.extract_pages("Item", tmp_path / "pages", where=ALL, page_size=size)
    # COUNT + total/size full pages + one (empty) page proving nothing was added meanwhile.
    assert result.rows == total
    assert result.pages == total // size + 1 and result.api_calls == result.pages + 1
    assert not (tmp_path / "pages" / "page-00099.json").exists()


def test_extract_pages_hands_runs_of_pages_over_while_the_rest_downloads(qbo_emulator, tmp_path):
    """``on_pages`` gets each run of pages in page order as it is written; the rest at the end."""
    emu = qbo_emulator
    total = len(emu.entities("Item"))
    size = next(s for s in (2, 3, 5) if total // s >= 5)
    calls: list[tuple[list[str], int]] = []

    def land(files):  # what a loader sees: the pages are there, in order
        assert all(f.exists() for f in files)
        calls.append(([f.name for f in files], len(emu.request_log)))

    with QboClient(make_settings(emu, tmp_path, max_concurrency=2), **FAST) as client:
        client.count("Item")
        emu.reset_request_log()
        emu.set_latency(0.05)
        try:
            result = client.extract_pages(
                "Item", tmp_path / "p", where=ALL, page_size=size, on_pages=land, pages_per_call=2
            )
        finally:
            emu.set_latency(0)
    handed = [name for names, _ in calls for name in names]
    assert handed == [f.name for f in result.files]  # every page once, in order
    assert all(len(names) == 2 for names, _ in calls[:-1]) and 1 <= len(calls[-1][0]) <= 2
    assert calls[0][1] < len(emu.request_log)  # the first run came before the last request

    def refuse(files):
        raise RuntimeError("loader failed")

    with QboClient(make_settings(emu, tmp_path, max_concurrency=1), **FAST) as client:
        emu.reset_request_log()
        with pytest.raises(RuntimeError, match="loader failed"):
            client.extract_pages("Item", tmp_path / "q", where=ALL, page_size=size, on_pages=refuse)
    assert len(ops(emu, "query")) < result.pages + 1  # the extraction stopped early


def test_resource_builds_a_working_client(qbo_emulator, tmp_path):
    from qbpa_assets_tests.fixtures.stack import quickbooks_resource

    resource = quickbooks_resource(qbo_emulator, tmp_path, max_concurrency=2)
    with resource.get_client() as client:
        assert client.count("Item") > 0
    assert (tmp_path / "qbo_tokens.json").exists()


def test_resource_names_missing_variable_only_when_used(monkeypatch):
    from qbpa_assets.defs.resources.quickbooks import QuickBooksResource

    for var in ("QBO_CLIENT_ID", "QBO_CLIENT_SECRET", "QBO_REALM_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("QBO_CLIENT_ID", "abc")
    resource = QuickBooksResource.from_env()  # loading definitions never fails
    with pytest.raises(QboConfigError, match="QBO_CLIENT_SECRET"):
        resource.get_client()
    with pytest.raises(QboConfigError, match="QBO_REALM_ID"):
        QuickBooksResource(client_id="a", client_secret="b").get_client()


def test_pages_in_flight_never_exceed_max_concurrency(qbo_emulator, tmp_path):
    emu = qbo_emulator
    with QboClient(make_settings(emu, tmp_path, max_concurrency=2), **FAST) as client:
        client.count("Item")
        lock, state = threading.Lock(), {"now": 0, "max": 0}
        send = client._qb.process_request

        def counting(*args, **kwargs):
            with lock:
                state["now"] += 1
                state["max"] = max(state["max"], state["now"])
            try:
                return send(*args, **kwargs)
            finally:
                with lock:
                    state["now"] -= 1

        client._qb.process_request = counting
        emu.set_latency(0.05)
        result = client.extract_pages("Item", tmp_path / "pages", where=ALL, page_size=3)
    assert result.pages >= 4
    assert state["max"] == 2  # concurrent, but never more than configured


def test_fault_inside_a_200_is_an_error(qbo_emulator, tmp_path):
    with QboClient(make_settings(qbo_emulator, tmp_path)) as client:
        body = (
            b'{"Fault":{"Error":[{"Message":"Duplicate","code":"6140"}],"type":"ValidationFault"}}'
        )
        _, err = client._parse_ok(None, body, "create Estimate")
        assert isinstance(err, QboFault) and err.code == "6140" and err.status == 200
        xml = b'<IntuitResponse><Fault type="ThrottleExceeded"><Error code="3001"><Message>x'
        xml += b"</Message></Error></Fault></IntuitResponse>"
        _, err = client._parse_ok(None, xml, "query")
        assert err.code == "3001" and client._is_retriable(err)


def test_sliding_window_limits_rate():
    window = SlidingWindow(limit=3, period=0.3)
    started = time.monotonic()
    waits = [window.acquire() for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] > 0.2 and time.monotonic() - started >= 0.29
