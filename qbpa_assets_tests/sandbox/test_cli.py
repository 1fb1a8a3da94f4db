"""``qbpa sandbox serve`` in a subprocess: the JSON line, the admin API, a clean exit."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import requests

pytestmark = pytest.mark.e2e


def test_serve_prints_connection_line_and_exits_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qbpa_assets.cli",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--customers",
            "12",
            "--items",
            "10",
            "--invoices",
            "15",
            "--days",
            "2",
            "--workdir",
            str(tmp_path),
            "--refresh-token-lifetime",
            "86400",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert set(info) == {
            "base_url",
            "discovery_url",
            "ca_file",
            "client_id",
            "client_secret",
            "realm_id",
            "refresh_token",
            "admin_url",
        }
        assert info["base_url"].startswith("https://127.0.0.1:") and info["base_url"].endswith(
            "/v3"
        )
        session = requests.Session()
        session.trust_env = False
        session.verify = info["ca_file"]
        doc = session.get(info["discovery_url"], timeout=10).json()
        token = session.post(
            doc["token_endpoint"],
            data={"grant_type": "refresh_token", "refresh_token": info["refresh_token"]},
            auth=(info["client_id"], info["client_secret"]),
            timeout=10,
        ).json()
        assert token["x_refresh_token_expires_in"] == 86400
        resp = session.post(
            f"{info['base_url']}/company/{info['realm_id']}/query",
            params={"minorversion": "75"},
            data="select count(*) from Customer",
            headers={
                "Authorization": f"Bearer {token['access_token']}",
                "Content-Type": "application/text",
            },
            timeout=10,
        )
        assert resp.json()["QueryResponse"]["totalCount"] > 0
        log = session.post(info["admin_url"] + "/request_log", json={}, timeout=10).json()
        assert [e["op"] for e in log["requests"]] == ["discovery", "token", "query"]
        ents = session.post(info["admin_url"] + "/entities", json={"name": "Item"}, timeout=10)
        assert len(ents.json()["entities"]) == 10
        bad = session.post(info["admin_url"] + "/nope", json={}, timeout=10)
        assert bad.status_code == 400
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
