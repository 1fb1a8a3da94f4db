"""deploy/: the production dagster.yaml against a real PostgreSQL 15, and the deployment files."""

from __future__ import annotations

import configparser
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from qbpa_assets_tests.fixtures.servers import free_port
from qbpa_assets_tests.lib.test_instance import assert_duckdb_pool_admits_one_step

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PG_BIN = Path("/usr/lib/postgresql/15/bin")

# The variables of DESIGN.md (plus the alert and instance ones) that qbpa.env.example documents.
DESIGN_VARIABLES = [
    "QBO_CLIENT_ID",
    "QBO_CLIENT_SECRET",
    "QBO_REALM_ID",
    "QBO_REFRESH_TOKEN",
    "QBO_ENVIRONMENT",
    "QBO_API_BASE_URL",
    "QBO_CA_BUNDLE",
    "QBO_MINOR_VERSION",
    "QBO_SALES_ORDER_ENTITY",
    "INVENTIV_FTP_URL",
    "INVENTIV_FTP_PASSWORD",
    "INVENTIV_FTP_KEY_FILE",
    "INVENTIV_FTP_KNOWN_HOSTS",
    "INVENTIV_ACCOUNT_ID",
    "INVENTIV_DB_CONNECTION",
    "INVENTIV_DB_PASSWORD",
    "QBPA_DATA_DIR",
    "QBPA_MAPPINGS_DIR",
    "QBPA_PARTITION_START",
    "QBPA_TIMEZONE",
    "QBPA_UI_BASE_URL",
    "QBPA_ALERT_WEBHOOK_URL",
    "QBPA_SMTP_URL",
    "QBPA_SMTP_PASSWORD",
    "DAGSTER_HOME",
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
]
SECRET_VARIABLES = [
    "QBO_CLIENT_SECRET",
    "QBO_REFRESH_TOKEN",
    "INVENTIV_FTP_PASSWORD",
    "INVENTIV_DB_PASSWORD",
    "QBPA_SMTP_PASSWORD",
    "DAGSTER_PG_PASSWORD",
]


# ---------------------------------------------------------------------------- PostgreSQL server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[dict[str, str]]:
    """A throw-away PostgreSQL 15 on 127.0.0.1 with password (SCRAM) authentication over TCP.

    Yields the ``DAGSTER_PG_*`` variables that point at it.
    """
    if not (PG_BIN / "pg_ctl").exists():
        pytest.skip(
            f"PostgreSQL 15 server binaries not found in {PG_BIN} (apt install postgresql-15)"
        )
    runner: list[str] = []
    owner = None
    if os.geteuid() == 0:
        # initdb and postgres refuse to run as root.
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
        if not shutil.which("runuser"):
            pytest.skip("running as root and `runuser` is not available to drop privileges")
        runner = ["runuser", "-u", "postgres", "--"]

    # Not tmp_path: pytest's base temp dir is private to root (0700), which the `postgres` user
    # could not traverse. A fresh directory from tempfile (honours TMPDIR) is removed at the end.
    base = Path(tempfile.mkdtemp(prefix="qbpa-pg-"))
    data, sockets, pwfile = base / "data", base / "sock", base / "pwfile"
    sockets.mkdir()
    password = secrets.token_urlsafe(16)
    pwfile.write_text(password + "\n")
    if owner is not None:
        for path in (base, sockets, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    base.chmod(0o700)
    port = free_port()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*runner, *args], capture_output=True, text=True, timeout=120, check=False
        )

    init = run(
        str(PG_BIN / "initdb"),
        "-D",
        str(data),
        "-U",
        "dagster",
        f"--pwfile={pwfile}",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--no-sync",
        "--no-instructions",
    )
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"initdb failed, PostgreSQL cannot be started here: {init.stderr[-500:]}")
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=40"
    )
    start = run(
        str(PG_BIN / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(data),
        "-l", str(base / "postgres.log"), "-o", options,
    )  # fmt: skip
    if start.returncode != 0:
        log = (base / "postgres.log").read_text() if (base / "postgres.log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {start.stderr[-300:]} {log[-500:]}")
    try:
        created = run(
            str(PG_BIN / "createdb"), "-h", str(sockets), "-p", str(port), "-U", "dagster",
            "qbpa_dagster",
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        yield {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(port),
            "DAGSTER_PG_USER": "dagster",
            "DAGSTER_PG_PASSWORD": password,
            "DAGSTER_PG_DB": "qbpa_dagster",
        }
    finally:
        run(str(PG_BIN / "pg_ctl"), "stop", "-m", "fast", "-w", "-D", str(data))
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def production_home(
    postgres_server: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """DAGSTER_HOME holding deploy/dagster.yaml, with the DAGSTER_PG_* variables set."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name, value in postgres_server.items():
        monkeypatch.setenv(name, value)
    return home


@dg.asset(pool="duckdb")
def tiny_customers() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


tiny_job = dg.define_asset_job("tiny_production_job", selection=[tiny_customers])
tiny_defs = dg.Definitions(assets=[tiny_customers], jobs=[tiny_job])


@pytest.mark.slow  # ~4 s of PostgreSQL start-up plus ~2-4 s of Dagster schema creation
def test_production_instance_on_postgres(production_home: Path, postgres_server: dict[str, str]):
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 4
        assert {limit["key"] for limit in queue.tag_concurrency_limits} == {
            "dagster/backfill",
            "dagster/code_location",
        }
        assert instance.global_op_concurrency_default_limit == 1
        assert instance.telemetry_enabled is False
        assert instance.run_monitoring_enabled
        # Slots a killed run still holds are freed (issue 9 case 7).
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 120

        result = tiny_defs.resolve_job_def("tiny_production_job").execute_in_process(
            instance=instance
        )
        assert result.success
        run_id = result.run_id
        # The run's step went through the `duckdb` pool, which took the default limit 1.
        pools = {p.name: p for p in instance.event_log_storage.get_pool_limits()}
        assert pools["duckdb"].limit == 1 and pools["duckdb"].from_default
        assert_duckdb_pool_admits_one_step(instance)

    # Read back through a fresh instance (as the webserver would) and straight from PostgreSQL.
    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        event = instance.get_latest_materialization_event(dg.AssetKey("tiny_customers"))
        assert event is not None and event.run_id == run_id
        assert event.asset_materialization.metadata["rows"].value == 3

    with (
        psycopg2.connect(
            host=postgres_server["DAGSTER_PG_HOST"],
            port=int(postgres_server["DAGSTER_PG_PORT"]),
            user=postgres_server["DAGSTER_PG_USER"],
            password=postgres_server["DAGSTER_PG_PASSWORD"],
            dbname=postgres_server["DAGSTER_PG_DB"],
        ) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,))
        assert cursor.fetchone() == ("SUCCESS",)
        cursor.execute("SELECT count(*) FROM event_logs WHERE run_id = %s", (run_id,))
        assert cursor.fetchone()[0] > 5


# ---------------------------------------------------------------------------- deployment files


def test_dagster_yaml_has_no_literal_credentials():
    config = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    db = config["storage"]["postgres"]["postgres_db"]
    assert db == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USER"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
        "scheme": "postgresql+psycopg2",
    }


def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO / "qbpa.env.example").read_text().splitlines():
        line = line.strip().lstrip("#").strip()
        if "=" in line and line.split("=", 1)[0].isupper():
            name, value = line.split("=", 1)
            values.setdefault(name, value)
    return values


def test_env_example_documents_every_variable_with_placeholder_secrets():
    values = env_example()
    missing = [name for name in DESIGN_VARIABLES if name not in values]
    assert not missing, f"qbpa.env.example lacks {missing}"
    for name in SECRET_VARIABLES:
        assert values[name].startswith("<") and values[name].endswith(">"), name


@pytest.mark.parametrize("unit", ["qbpa-webserver.service", "qbpa-daemon.service"])
def test_systemd_units(unit: str, tmp_path: Path):
    text = (DEPLOY / "systemd" / unit).read_text()
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(text)
    service = parser["Service"]
    assert service["EnvironmentFile"] == "/etc/qbpa/qbpa.env"
    assert service["User"] == "qbpa"
    assert "--workspace /etc/qbpa/workspace.yaml" in service["ExecStart"]
    assert parser["Install"]["WantedBy"] == "multi-user.target"
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    # `verify` checks syntax and that ExecStart exists: point it at this virtualenv's binaries.
    local = tmp_path / unit
    venv_bin = REPO / ".venv" / "bin"
    local.write_text(text.replace("/opt/qbpa/venv/bin", str(venv_bin)))
    if not (venv_bin / "dagster-daemon").exists():
        return
    verify = subprocess.run(
        [analyze, "verify", str(local)], capture_output=True, text=True, timeout=60, check=False
    )
    assert verify.returncode == 0, verify.stderr


def test_helm_values_one_volume_and_secret_per_company():
    values = yaml.safe_load((DEPLOY / "kubernetes" / "values.yaml").read_text())
    assert values["telemetry"] == {"enabled": False}
    assert values["concurrency"]["pools"]["defaultLimit"] == 1
    assert values["runLauncher"]["config"]["customRunLauncher"]["class"] == "DefaultRunLauncher"
    deployments = values["dagster-user-deployments"]["deployments"]
    assert deployments
    for deployment in deployments:
        data_dir = deployment["env"]["QBPA_DATA_DIR"]
        claims = {
            v["name"]: v["persistentVolumeClaim"]["claimName"]
            for v in deployment["volumes"]
            if "persistentVolumeClaim" in v
        }
        mounts = {m["mountPath"]: m["name"] for m in deployment["volumeMounts"]}
        assert mounts[data_dir] in claims
        assert deployment["envSecrets"]
        assert deployment["deploymentStrategy"] == {"type": "Recreate"}
        for name in SECRET_VARIABLES:
            assert name not in deployment["env"]
    all_claims = [
        v["persistentVolumeClaim"]["claimName"]
        for d in deployments
        for v in d["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert len(all_claims) == len(set(all_claims)) == len(deployments)


def test_dockerfile():
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    for package in ("unixodbc", "libsqliteodbc", "odbc-postgresql"):
        assert package in text
    # dagster-postgres comes with the package's [server] extra, pinned once in pyproject.toml.
    assert 'pip install ".[server]"' in text
    server_extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["server"]
    assert any(dep.startswith("dagster-postgres==") for dep in server_extra)
    assert "USER qbpa" in text
