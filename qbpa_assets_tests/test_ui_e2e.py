"""The Dagster UI as a user sees it: ``dagster dev`` on the emulator, driven through GraphQL.

One module-scoped stack: the QuickBooks emulator (in this process), a demo Inventiv database
(SQLite over ODBC), a ``file://`` Inventiv FTP folder, and ``dagster dev`` (webserver, daemon and
code server) as a subprocess in its own process group with a temporary ``DAGSTER_HOME``. The
tests then check what the UI shows: the asset graph and its lineage, the schedules and sensor
switched on, two jobs launched from the UI's own API and finished with row counts, and a
screenshot of the asset graph rendered by headless Chromium (kept in
``test-artifacts/ui/asset-graph.png``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from qbpa_assets.demo import demo_environment
from qbpa_assets.lib.instance import local_instance_yaml
from qbpa_assets.sandbox.company import generate_company
from qbpa_assets.sandbox.emulator import Emulator
from qbpa_assets.sandbox.inventiv_demo import create_demo_db
from qbpa_assets_tests.fixtures.servers import free_port, processes_with_env

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "ui"
DAGSTER = Path(sys.executable).with_name("dagster")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
STARTUP_TIMEOUT = 240.0
# A launched run executes each step in a subprocess of its own; the master-data job has 12
# assets and their checks, queued one at a time on the duckdb pool. On a busy 2-core machine
# that takes minutes: the bound only has to catch a run that hangs.
RUN_TIMEOUT = 600.0
_ENV_PREFIXES = ("QBO_", "INVENTIV_", "QBPA_", "DAGSTER_")

# DESIGN.md's public contract: every asset key and the lineage between them.
DESIGN_KEYS = {
    "quickbooks/customers",
    "quickbooks/items",
    "quickbooks/invoices",
    "staging/customers",
    "staging/items",
    "staging/invoice_lines",
    "inventiv_ftp/customer_fil",
    "inventiv_ftp/item_fil",
    "inventiv_ftp/invoice_fil",
    "inventiv_db/orders",
    "quickbooks/sales_orders",
}
DESIGN_EDGES = {
    ("quickbooks/customers", "staging/customers"),
    ("quickbooks/items", "staging/items"),
    ("quickbooks/invoices", "staging/invoice_lines"),
    ("staging/customers", "inventiv_ftp/customer_fil"),
    ("staging/items", "inventiv_ftp/item_fil"),
    ("staging/invoice_lines", "inventiv_ftp/invoice_fil"),
    ("inventiv_db/orders", "quickbooks/sales_orders"),
    ("staging/customers", "quickbooks/sales_orders"),
    ("staging/items", "quickbooks/sales_orders"),
}
SCHEDULES = {"nightly_master_data_schedule", "nightly_invoice_schedule"}
SENSOR = "inventiv_new_orders_sensor"
SHOT_SIZE = (1600, 2600)


@dataclass
class DagsterUi:
    """A running ``dagster dev``."""

    url: str
    proc: subprocess.Popen
    log: Path
    data_dir: Path
    dagster_home: Path
    location: str = ""
    repository: str = ""

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a query; return ``data`` (fails the test on transport or GraphQL errors)."""
        resp = requests.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            timeout=60,
        )
        resp.raise_for_status()
        body = resp.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def log_tail(self, chars: int = 6000) -> str:
        """The end of dagster dev's output, for failure messages."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


WORKSPACE_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename
        ... on RepositoryLocation { repositories { name } }
        ... on PythonError { message stack } } } } } }
"""


def _wait_until_loaded(ui: DagsterUi) -> None:
    """Wait for the webserver to answer GraphQL and the code location to load."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        if ui.proc.poll() is not None:
            pytest.fail(f"dagster dev exited with {ui.proc.returncode}:\n{ui.log_tail()}")
        try:
            data = ui.graphql(WORKSPACE_QUERY)
        except (requests.RequestException, AssertionError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(1)
            continue
        entries = data["workspaceOrError"].get("locationEntries") or []
        for entry in entries:
            loc = entry.get("locationOrLoadError") or {}
            if loc.get("__typename") == "PythonError":
                pytest.fail(f"code location failed to load: {loc['message']}\n{loc['stack']}")
            if entry["loadStatus"] == "LOADED" and loc.get("__typename") == "RepositoryLocation":
                ui.location = entry["name"]
                ui.repository = loc["repositories"][0]["name"]
                return
        last = str(entries)
        time.sleep(1)
    pytest.fail(f"dagster dev not ready in {STARTUP_TIMEOUT:.0f}s ({last}):\n{ui.log_tail()}")


def _stop_group(proc: subprocess.Popen, grace: float = 30.0) -> None:
    """SIGINT to the whole process group (what Ctrl-C does), then SIGKILL after ``grace``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    # Children (daemon, code server, run workers) may outlive the leader for a moment.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _group_alive(proc.pid):
        time.sleep(0.2)
    if _group_alive(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies of the group count as gone: only the reaping parent can clear them.
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterUi]:
    """The whole stack, started once for this module and stopped without leftovers."""
    root = tmp_path_factory.mktemp("ui-e2e")
    data_dir = root / "var"
    dagster_home = root / "dagster_home"
    data_dir.mkdir()
    dagster_home.mkdir()
    # The instance of `make dev`, minus the "Join the Dagster community" pop-up, which would
    # cover the graph in the screenshot.
    (dagster_home / "dagster.yaml").write_text(local_instance_yaml() + "\nnux:\n  enabled: false\n")
    company = generate_company(customers=30, items=15, invoices=40, days=3, seed=7)
    with Emulator(company=company, workdir=root / "emulator") as emu:
        db_connection = create_demo_db(
            root / "inventiv_demo.sqlite", company, orders=4, invalid=1, days=1
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIXES)}
        env.update(demo_environment(data_dir, emu.env(), db_connection))
        env.update(DAGSTER_HOME=str(dagster_home), PYTHONUNBUFFERED="1")
        port = free_port()
        log = root / "dagster-dev.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(DAGSTER), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: one signal reaches every child
            )
        ui = DagsterUi(f"http://127.0.0.1:{port}", proc, log, data_dir, dagster_home)
        try:
            _wait_until_loaded(ui)
            yield ui
        finally:
            _stop_group(proc)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, ARTIFACTS / "dagster-dev.log")
            leftovers = processes_with_env(str(dagster_home))
            for line in leftovers:  # never leave them running, even when the test fails
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(line.split(":")[0]), signal.SIGKILL)
            assert not leftovers, f"orphan processes after shutdown: {leftovers}"


def _path(key: dict) -> str:
    return "/".join(key["path"])


def test_asset_graph_has_the_designed_keys_and_lineage(dagster_ui: DagsterUi) -> None:
    data = dagster_ui.graphql(
        "{ assetNodes { assetKey { path } dependencyKeys { path } groupName } }"
    )
    nodes = {_path(n["assetKey"]): n for n in data["assetNodes"]}
    assert DESIGN_KEYS <= set(nodes), sorted(DESIGN_KEYS - set(nodes))
    edges = {(_path(up), key) for key, node in nodes.items() for up in node["dependencyKeys"]}
    assert DESIGN_EDGES <= edges, sorted(DESIGN_EDGES - edges)
    # Nothing upstream of the raw extracts: they are the sources of the graph.
    for source in ("quickbooks/customers", "quickbooks/items", "quickbooks/invoices"):
        assert nodes[source]["dependencyKeys"] == []


def test_schedules_and_sensor_are_running(dagster_ui: DagsterUi) -> None:
    data = dagster_ui.graphql(
        """query($selector: RepositorySelector!) {
            repositoryOrError(repositorySelector: $selector) { __typename ... on Repository {
              schedules { name cronSchedule scheduleState { status } }
              sensors { name sensorState { status } } } } }""",
        {"selector": _repo_selector(dagster_ui)},
    )
    repo = data["repositoryOrError"]
    assert repo["__typename"] == "Repository", repo
    schedules = {s["name"]: s["scheduleState"]["status"] for s in repo["schedules"]}
    sensors = {s["name"]: s["sensorState"]["status"] for s in repo["sensors"]}
    assert {name: schedules.get(name) for name in SCHEDULES} == dict.fromkeys(SCHEDULES, "RUNNING")
    assert sensors.get(SENSOR) == "RUNNING", sensors


def _repo_selector(ui: DagsterUi) -> dict[str, str]:
    return {"repositoryLocationName": ui.location, "repositoryName": ui.repository}


LAUNCH = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on Error { message } } }
"""

RUN = """
query($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run {
    status
    tags { key value }
    assetMaterializations { assetKey { path }
        metadataEntries { label ... on IntMetadataEntry { intValue } } } } } }
"""

FAILURES = """
query($runId: ID!) { logsForRun(runId: $runId, limit: 500) { __typename
    ... on EventConnection { events { __typename
        ... on ExecutionStepFailureEvent { stepKey error { message } }
        ... on RunFailureEvent { message } } } } }
"""


def _launch(ui: DagsterUi, job: str, partition: str | None = None) -> str:
    params: dict[str, Any] = {
        "selector": {**_repo_selector(ui), "jobName": job},
        "runConfigData": {},
        "executionMetadata": {
            "tags": [{"key": "dagster/partition", "value": partition}] if partition else []
        },
    }
    result = ui.graphql(LAUNCH, {"params": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def _wait_for_run(ui: DagsterUi, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_TIMEOUT
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = ui.graphql(RUN, {"runId": run_id})["runOrError"]
        if run.get("status") in {"SUCCESS", "FAILURE", "CANCELED"}:
            break
        time.sleep(2)
    if run.get("status") != "SUCCESS":
        events = ui.graphql(FAILURES, {"runId": run_id})["logsForRun"].get("events") or []
        errors = [
            f"{e.get('stepKey', 'run')}: {(e.get('error') or e).get('message')}"
            for e in events
            if e["__typename"] in {"ExecutionStepFailureEvent", "RunFailureEvent"}
        ]
        pytest.fail(
            f"run {run_id} ended {run.get('status')!r} (timeout {RUN_TIMEOUT:.0f}s): {errors}\n"
            + ui.log_tail()
        )
    return run


def _row_counts(run: dict[str, Any]) -> dict[str, int | None]:
    counts: dict[str, int | None] = {}
    for mat in run["assetMaterializations"]:
        entries = {e["label"]: e.get("intValue") for e in mat["metadataEntries"]}
        counts[_path(mat["assetKey"])] = entries.get("dagster/row_count")
    return counts


def test_launch_master_data_and_invoice_partition_from_the_ui(dagster_ui: DagsterUi) -> None:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    master_id = _launch(dagster_ui, "nightly_master_data_job")
    invoice_id = _launch(dagster_ui, "nightly_invoice_job", yesterday)

    master = _wait_for_run(dagster_ui, master_id)
    counts = _row_counts(master)
    expected = {
        "quickbooks/customers",
        "quickbooks/items",
        "staging/customers",
        "staging/items",
        "inventiv_ftp/customer_fil",
        "inventiv_ftp/item_fil",
        "quickbooks/vendors",
        "staging/vendors",
        "inventiv_ftp/vendor_fil",
        "quickbooks/employees",
        "staging/sales_reps",
        "inventiv_ftp/salesrep_fil",
    }
    assert set(counts) == expected, counts
    assert all(isinstance(n, int) for n in counts.values()), counts
    assert counts["quickbooks/customers"] == counts["staging/customers"] == 30
    assert counts["quickbooks/items"] == counts["staging/items"] == 15

    invoices = _wait_for_run(dagster_ui, invoice_id)
    assert {"key": "dagster/partition", "value": yesterday} in invoices["tags"]
    counts = _row_counts(invoices)
    assert set(counts) == {
        "quickbooks/invoices",
        "staging/invoice_lines",
        "inventiv_ftp/invoice_fil",
    }, counts
    assert all(isinstance(n, int) and n >= 0 for n in counts.values()), counts

    # What the Inventiv side sees: the files in latest<account>.
    drop = dagster_ui.data_dir / "inventiv_ftp" / "latestdemo"
    for name in ("customer.fil", "item.fil", "invoice.fil"):
        assert (drop / name).is_file(), sorted(p.name for p in drop.iterdir())
    customer_lines = (drop / "customer.fil").read_bytes().split(b"\r\n")
    assert len([line for line in customer_lines if line]) == 31  # header + 30 customers


# ------------------------------------------------------------------------------ screenshot


def _png_pixels(path: Path) -> tuple[int, int, set[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes); return width, height, colours."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    bpp = 4 if ctype == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    colours: set[bytes] = set()
    prev = bytearray(stride)
    for y in range(height):
        filt = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):  # undo the PNG row filter
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if filt == 1:
                line[i] = (line[i] + a) & 0xFF
            elif filt == 2:
                line[i] = (line[i] + b) & 0xFF
            elif filt == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        if y % 4 == 0:  # a sample of rows is enough to tell a blank page from a graph
            colours.update(bytes(line[x : x + 3]) for x in range(0, stride, bpp * 2))
        prev = line
    return width, height, colours


def _chromium(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    # The graph is drawn at 100 % zoom (see the test below), so the window is as tall as the
    # expanded graph; the UI only renders nodes inside the viewport.
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path}",
        f"--window-size={SHOT_SIZE[0]},{SHOT_SIZE[1]}",
        "--virtual-time-budget=15000",
        "--hide-scrollbars",
        *args,
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, start_new_session=True)


def test_screenshot_of_the_asset_graph(dagster_ui: DagsterUi, tmp_path: Path) -> None:
    """The global asset lineage page, every group expanded, every asset name on screen.

    Groups start collapsed; the ``expanded`` query parameter opens them (the UI keeps that
    state in the URL). Group ids are ``global@global:<group>``, or ``<repo>@<location>:<group>``
    when groups are split per code location; both are passed. Dagster 1.13 does not re-fit the
    view after the expanded layout replaces the collapsed one (its layout-change test compares
    ``nodes.length`` of an object), so the graph stays at 100 % zoom: the window is made tall
    enough to hold it instead of 1600x1000.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/system-deps.sh test")
    nodes = dagster_ui.graphql("{ assetNodes { groupName } }")["assetNodes"]
    groups = sorted({n["groupName"] for n in nodes if n["groupName"]})
    ids = [f"global@global:{g}" for g in groups] + [
        f"{dagster_ui.repository}@{dagster_ui.location}:{g}" for g in groups
    ]
    url = f"{dagster_ui.url}/asset-groups?" + urlencode({"expanded": ",".join(ids)})

    # 1. What is rendered: the UI culls nodes outside the viewport, so a name in the DOM is a
    #    name on screen.
    dom = _chromium(tmp_path / "profile-dom", url, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-3000:]
    names = Counter(key.rsplit("/", 1)[1] for key in DESIGN_KEYS)
    shown = {name: dom.stdout.count(f">{name}<") for name in names}
    assert all(shown[name] >= n for name, n in names.items()), shown

    # 2. The picture, kept as a test artifact.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "asset-graph.png"
    shot.unlink(missing_ok=True)
    proc = _chromium(tmp_path / "profile-shot", url, f"--screenshot={shot}")
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-3000:]
    assert shot.stat().st_size > 50_000, shot.stat().st_size
    width, height, colours = _png_pixels(shot)
    assert (width, height) == SHOT_SIZE
    assert len(colours) > 20, f"screenshot looks blank ({len(colours)} colours)"
