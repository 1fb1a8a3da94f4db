"""`qbpa dev` (what `make dev` runs): the UI comes up on the emulator and Ctrl-C stops it all."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from qbpa_assets_tests.fixtures.servers import free_port, processes_with_env

REPO = Path(__file__).resolve().parents[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]


@pytest.mark.slow
@pytest.mark.e2e
def test_dev_serves_the_ui_and_stops_cleanly_on_ctrl_c(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    cli = [sys.executable, "-m", "qbpa_assets.cli"]
    yaml = subprocess.run([*cli, "instance-yaml"], capture_output=True, text=True, check=True)
    (home / "dagster.yaml").write_text(yaml.stdout)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBO_", "INVENTIV_", "QBPA_"))}
    env["DAGSTER_HOME"] = str(home)
    port = free_port()
    log = tmp_path / "dev.log"
    # A demo's results: `make dev` must leave them alone (it has its own folder, var/dev).
    env["QBPA_DATA_DIR"] = str(tmp_path / "var")
    env["QBPA_ENV_FILE"] = str(tmp_path / "no-such.env")
    demo_result = tmp_path / "var" / "demo" / "inventiv_ftp" / "latestdemo" / "customer.fil"
    demo_result.parent.mkdir(parents=True)
    demo_result.write_bytes(b"from the demo\r\n")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*cli, "dev", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        sensors = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                data = _graphql(
                    port,
                    "{ workspaceOrError { ... on Workspace { locationEntries "
                    "{ name locationOrLoadError { __typename } } } } }",
                )
                entries = data["workspaceOrError"]["locationEntries"]
                if (
                    entries
                    and entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation"
                ):
                    sensors = _graphql(
                        port,
                        '{ sensorsOrError(repositorySelector: {repositoryName: "__repository__", '
                        'repositoryLocationName: "qbpa_assets"}) { ... on Sensors { results '
                        "{ name sensorState { status } } } } }",
                    )
                    break
            except OSError:
                pass
            time.sleep(1)
        assert sensors, log.read_text()[-3000:]
        states = {
            s["name"]: s["sensorState"]["status"] for s in sensors["sensorsOrError"]["results"]
        }
        assert states["inventiv_new_orders_sensor"] == "RUNNING"
        runs = _graphql(port, "{ runsOrError { ... on Runs { results { jobName status } } } }")
        assert {"jobName": "nightly_master_data_job", "status": "SUCCESS"} in runs["runsOrError"][
            "results"
        ]
        assert demo_result.read_bytes() == b"from the demo\r\n"
        assert (tmp_path / "var" / "dev" / "inventiv_ftp" / "latestdemo" / "customer.fil").exists()
        # `qbpa check` on the running sandbox's settings file checks exactly this setup.
        dev_env = tmp_path / "var" / "dev" / "qbpa.env"
        assert dev_env.stat().st_mode & 0o077 == 0
        check = subprocess.run(
            [*cli, "check", "--json"],
            cwd=REPO,
            env={
                **{k: v for k, v in env.items() if k != "QBPA_DATA_DIR"},
                "QBPA_ENV_FILE": str(dev_env),
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        report = json.loads(check.stdout)
        bad = [r for r in report["results"] if r["status"] != "OK"]
        assert check.returncode == 0 and report["ok"] and not bad, bad
        assert str(dev_env) in report["source"]
    finally:
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            code = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = None
        time.sleep(1)
        leftovers = processes_with_env(str(home), count_zombies=True)
        for line in leftovers:
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
    assert code is not None, f"qbpa dev ignored Ctrl-C:\n{log.read_text()[-2000:]}"
    assert time.monotonic() - started < 90
    assert not leftovers, leftovers
