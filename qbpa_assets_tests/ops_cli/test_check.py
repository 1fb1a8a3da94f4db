"""``qbpa check`` against real parts: the emulator, OpenSSH sshd, a SQLite ODBC database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from qbpa_assets.lib.mappings import DEFAULT_MAPPINGS_DIR
from qbpa_assets.ops_cli import check
from qbpa_assets_tests.fixtures.odbc import new_sqlite_db

REPO = Path(__file__).resolve().parents[2]
DB_PASSWORD = "db-Pa55word-known-to-the-test"
FTP_PASSWORD = "ftp-Pa55word-known-to-the-test"
BAD_REFRESH_TOKEN = "AB11-bad-refresh-token-known-to-the-test"
WRONG_SECRET = "wrong-client-secret-known-to-the-test"
_PREFIXES = ("QBO_", "INVENTIV_", "QBPA_")


def _stack_env(emu, tmp_path: Path, ftp_url: str, **extra: str) -> dict[str, str]:
    db = new_sqlite_db(tmp_path / "inventiv.db")
    data = tmp_path / "var"
    data.mkdir(exist_ok=True)
    env = {
        **emu.env(),
        "INVENTIV_FTP_URL": ftp_url,
        "INVENTIV_ACCOUNT_ID": f"acct{uuid.uuid4().hex[:8]}",
        "INVENTIV_DB_CONNECTION": db.connection_string,
        # The SQLite driver ignores PWD; it is here to prove the value is never printed.
        "INVENTIV_DB_PASSWORD": DB_PASSWORD,
        "QBPA_DATA_DIR": str(data),
    }
    env.update(extra)
    return env


@pytest.fixture
def sftp_env(qbo_emulator, sshd_server, tmp_path: Path) -> dict[str, str]:
    """Everything OK: the emulator, sshd (key login, pinned host key), SQLite over ODBC."""
    return _stack_env(
        qbo_emulator,
        tmp_path,
        sshd_server.url(),
        INVENTIV_FTP_KEY_FILE=str(sshd_server.key_file),
        INVENTIV_FTP_KNOWN_HOSTS=str(sshd_server.known_hosts),
    )


def _use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in list(os.environ):
        if name.startswith(_PREFIXES):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _run(monkeypatch, capsys, env: dict[str, str], *args: str) -> tuple[int, dict, str]:
    """Run ``qbpa check --json`` in-process; return exit code, parsed JSON, all output."""
    _use_env(monkeypatch, env)
    code = check.main(["--json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out), out + err


def _rows(report: dict) -> dict[tuple[str, str], dict]:
    return {(r["system"], r["check"]): r for r in report["results"]}


def _token_store_secrets(env: dict[str, str]) -> list[str]:
    store = Path(env["QBPA_DATA_DIR"]) / "qbo_tokens.json"
    data = json.loads(store.read_text())
    return [v for k, v in data.items() if k in ("refresh_token", "access_token") and v]


def _assert_no_secrets(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret and secret not in text


EXPECTED_ROWS = [
    ("Settings", "values"),
    ("QuickBooks", "variables"),
    ("QuickBooks", "token refresh"),
    ("QuickBooks", "re-authorization"),
    ("QuickBooks", "company"),
    ("QuickBooks", "minor version"),
    ("QuickBooks", "custom transaction numbers"),
    ("Inventiv FTP", "variables"),
    ("Inventiv FTP", "host key"),
    ("Inventiv FTP", "login"),
    ("Inventiv FTP", "folder writable"),
    ("Inventiv DB", "variables"),
    ("Inventiv DB", "connect"),
    ("Inventiv DB", "query orders_sql"),
    ("Inventiv DB", "query lines_sql"),
    ("Inventiv DB", "query new_orders_sql"),
    ("Mappings", "customer.fil"),
    ("Mappings", "item.fil"),
    ("Mappings", "invoice.fil"),
    ("Mappings", "vendor.fil"),
    ("Mappings", "salesrep.fil"),
    ("Mappings", "orders.toml"),
]


@pytest.mark.e2e
def test_all_ok_against_emulator_sshd_and_odbc(
    monkeypatch, capsys, sftp_env, sshd_server, qbo_emulator
):
    code, report, output = _run(monkeypatch, capsys, sftp_env)
    rows = _rows(report)
    assert [(r["system"], r["check"]) for r in report["results"]] == EXPECTED_ROWS
    assert {r["status"] for r in report["results"]} == {"OK"}, report
    assert code == 0 and report["ok"] is True
    assert qbo_emulator.company.company_name in rows[("QuickBooks", "company")]["detail"]
    # The write test left nothing behind in latest<account>.
    folder = sshd_server.root / f"latest{sftp_env['INVENTIV_ACCOUNT_ID']}"
    assert folder.is_dir() and list(folder.iterdir()) == []
    secrets = [sftp_env["QBO_CLIENT_SECRET"], sftp_env["QBO_REFRESH_TOKEN"], DB_PASSWORD]
    _assert_no_secrets(output, secrets + _token_store_secrets(sftp_env))

    # The human table: same rows, a summary, exit 0.
    assert check.main([]) == 0
    table = capsys.readouterr().out
    assert "custom transaction numbers" in table and f"{len(EXPECTED_ROWS)} OK" in table
    assert "Checking the settings of the environment" in table
    _assert_no_secrets(table, secrets + _token_store_secrets(sftp_env))


@pytest.mark.e2e
def test_refresh_rotates_into_the_pipeline_token_store(monkeypatch, capsys, sftp_env):
    """The check spends the refresh token: the rotated one must be saved where runs read it."""
    code, _, _ = _run(monkeypatch, capsys, sftp_env, "--only", "quickbooks")
    assert code == 0
    first = _token_store_secrets(sftp_env)
    # A second check starts from the store (the seed in QBO_REFRESH_TOKEN is already spent).
    code, report, _ = _run(monkeypatch, capsys, sftp_env, "--only", "quickbooks")
    assert code == 0, report
    assert _token_store_secrets(sftp_env) != first


@pytest.mark.e2e
def test_cli_subprocess_never_prints_secrets(qbo_emulator, tmp_path: Path):
    """Whole process output (stdout, stderr, --verbose logs) holds no secret; file:// FTP."""
    env_vars = _stack_env(
        qbo_emulator,
        tmp_path,
        (tmp_path / "ftp").as_uri(),
        INVENTIV_FTP_PASSWORD=FTP_PASSWORD,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PREFIXES)}
    env.update(env_vars)
    proc = subprocess.run(
        [sys.executable, "-m", "qbpa_assets.cli", "check", "--verbose"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert f"{len(EXPECTED_ROWS) - 1} OK" in proc.stdout  # no host-key row for file://
    assert "DEBUG" in proc.stderr or "INFO" in proc.stderr  # the logs really were captured
    secrets = [
        env_vars["QBO_CLIENT_SECRET"],
        env_vars["QBO_REFRESH_TOKEN"],
        DB_PASSWORD,
        FTP_PASSWORD,
    ]
    _assert_no_secrets(output, secrets + _token_store_secrets(env_vars))


def _broken_customer_override(tmp_path: Path) -> str:
    folder = tmp_path / "mappings"
    folder.mkdir()
    text = (DEFAULT_MAPPINGS_DIR / "customer.fil.toml").read_text()
    text += '\n[[columns]]\nname = "REGION"\nsql = "no_such_column"\n'
    (folder / "customer.fil.toml").write_text(text)
    return str(folder)


def _orders_override_without_alias(tmp_path: Path) -> str:
    folder = tmp_path / "mappings"
    folder.mkdir()
    text = (DEFAULT_MAPPINGS_DIR / "orders.toml").read_text()
    assert "ORDER_NO AS order_no" in text
    broken = text.replace("ORDER_NO AS order_no", "ORDER_NO AS order_number")
    (folder / "orders.toml").write_text(broken)
    return str(folder)


FAILURES = {
    "missing-variable": (
        lambda env, tmp: env.pop("QBO_CLIENT_SECRET"),
        ("QuickBooks", "variables"),
        ["QBO_CLIENT_SECRET"],
    ),
    "bad-refresh-token": (
        lambda env, tmp: env.update(QBO_REFRESH_TOKEN=BAD_REFRESH_TOKEN),
        ("QuickBooks", "token refresh"),
        ["qbpa authorize", "invalid_grant"],
    ),
    "wrong-client-secret": (
        lambda env, tmp: env.update(QBO_CLIENT_SECRET=WRONG_SECRET),
        ("QuickBooks", "token refresh"),
        ["invalid_client", "QBO_CLIENT_ID", "QBO_CLIENT_SECRET"],
    ),
    "bad-time-zone": (
        lambda env, tmp: env.update(QBPA_TIMEZONE="Nowhere/Bogus"),
        ("Settings", "values"),
        ["QBPA_TIMEZONE", "IANA time zone"],
    ),
    "bad-partition-start": (
        lambda env, tmp: env.update(QBPA_PARTITION_START="garbage"),
        ("Settings", "values"),
        ["QBPA_PARTITION_START", "YYYY-MM-DD"],
    ),
    "sales-order-entity": (
        lambda env, tmp: env.update(QBO_SALES_ORDER_ENTITY="SalesOrder"),
        ("Settings", "values"),
        ["QBO_SALES_ORDER_ENTITY", "Estimate", "SalesReceipt"],
    ),
    "bad-environment": (
        lambda env, tmp: env.update(QBO_ENVIRONMENT="http://example.com/discovery"),
        ("QuickBooks", "variables"),
        ["QBO_ENVIRONMENT", "sandbox"],
    ),
    "unknown-host-key": (
        lambda env, tmp: env.update(INVENTIV_FTP_KNOWN_HOSTS=str(_empty(tmp / "known_hosts"))),
        ("Inventiv FTP", "host key"),
        ["ssh-keyscan", "INVENTIV_FTP_KNOWN_HOSTS"],
    ),
    "bad-odbc-connection": (
        lambda env, tmp: env.update(
            INVENTIV_DB_CONNECTION=f"Driver={{No Such Driver}};Database=/x;PWD={DB_PASSWORD}x"
        ),
        ("Inventiv DB", "connect"),
        ["INVENTIV_DB_CONNECTION", "odbcinst"],
    ),
    "broken-fil-override": (
        lambda env, tmp: env.update(QBPA_MAPPINGS_DIR=_broken_customer_override(tmp)),
        ("Mappings", "customer.fil"),
        ["override"],
    ),
    "orders-query-columns": (
        lambda env, tmp: env.update(QBPA_MAPPINGS_DIR=_orders_override_without_alias(tmp)),
        ("Inventiv DB", "query orders_sql"),
        ["AS", "orders_sql"],
    ),
}


def _empty(path: Path) -> Path:
    path.write_text("")
    return path


@pytest.mark.e2e
@pytest.mark.parametrize("kind", list(FAILURES))
def test_each_failure_kind_fails_with_a_fix(monkeypatch, capsys, sftp_env, tmp_path, kind):
    change, row, fix_words = FAILURES[kind]
    env = dict(sftp_env)
    change(env, tmp_path)
    code, report, output = _run(monkeypatch, capsys, env)
    rows = _rows(report)
    failed = [key for key, r in rows.items() if r["status"] == "FAIL"]
    assert failed == [row], report
    assert code == 1 and report["ok"] is False
    for word in fix_words:
        assert word in rows[row]["fix"], rows[row]
    if kind == "broken-fil-override":
        assert "REGION" in rows[row]["detail"] and "no_such_column" in rows[row]["detail"]
    if kind == "orders-query-columns":
        assert "order_no" in rows[row]["detail"]
        # The mapping folder applies to the mappings row as well, which still compiles.
        assert rows[("Mappings", "orders.toml")]["status"] == "OK"
    # Rows after a failure that cannot run are SKIP, never a false OK.
    if kind == "unknown-host-key":
        assert rows[("Inventiv FTP", "folder writable")]["status"] == "SKIP"
    secrets = [
        env.get("QBO_CLIENT_SECRET") or sftp_env["QBO_CLIENT_SECRET"],
        DB_PASSWORD,
        BAD_REFRESH_TOKEN,
        WRONG_SECRET,
        f"{DB_PASSWORD}x",
    ]
    _assert_no_secrets(output, secrets)


@pytest.mark.e2e
def test_custom_transaction_numbers_off_fails(monkeypatch, capsys, fresh_emulator, tmp_path):
    emu = fresh_emulator()
    emu.set_preference("CustomTxnNumbers", False)
    env = _stack_env(emu, tmp_path, (tmp_path / "ftp").as_uri())
    code, report, _ = _run(monkeypatch, capsys, env, "--only", "quickbooks")
    row = _rows(report)[("QuickBooks", "custom transaction numbers")]
    assert code == 1 and row["status"] == "FAIL"
    assert "Custom transaction numbers" in row["fix"]


@pytest.mark.e2e
def test_old_minor_version_warns_but_passes(monkeypatch, capsys, sftp_env):
    env = {**sftp_env, "QBO_MINOR_VERSION": "65"}
    code, report, _ = _run(monkeypatch, capsys, env, "--only", "quickbooks")
    row = _rows(report)[("QuickBooks", "minor version")]
    assert row["status"] == "WARN" and "QBO_MINOR_VERSION=75" in row["fix"]
    assert code == 0


def test_nothing_configured_names_every_variable(monkeypatch, capsys, tmp_path):
    code, report, output = _run(monkeypatch, capsys, {"QBPA_DATA_DIR": str(tmp_path)})
    assert code == 1
    text = " ".join(r["detail"] for r in report["results"] if r["status"] == "FAIL")
    for var in (
        "QBO_CLIENT_ID",
        "QBO_CLIENT_SECRET",
        "QBO_REALM_ID",
        "QBO_REFRESH_TOKEN",
        "INVENTIV_FTP_URL",
        "INVENTIV_ACCOUNT_ID",
        "INVENTIV_DB_CONNECTION",
    ):
        assert var in text
    # Mappings need no variable: the defaults compile.
    assert all(r["status"] == "OK" for r in report["results"] if r["system"] == "Mappings")


def test_mappings_compile_against_a_built_warehouse(monkeypatch, capsys, tmp_path):
    """With staged tables built, layouts compile against them (a dropped column is caught)."""
    import duckdb

    from qbpa_assets.lib.master_data.staging import refresh_customers
    from qbpa_assets.lib.warehouse import raw

    con = duckdb.connect(str(tmp_path / "qbpa.duckdb"))
    raw.ensure_schema(con)
    refresh_customers(con)
    con.execute("ALTER TABLE staging.customers_stored DROP COLUMN display_name")
    con.close()
    code, report, _ = _run(
        monkeypatch, capsys, {"QBPA_DATA_DIR": str(tmp_path)}, "--only", "mappings"
    )
    rows = _rows(report)
    assert rows[("Mappings", "customer.fil")]["status"] == "FAIL"
    assert "display_name" in rows[("Mappings", "customer.fil")]["detail"]
    assert "warehouse" not in rows[("Mappings", "item.fil")]["detail"]  # not built: empty schema
    assert code == 1


def test_redactor_hides_values_and_connection_string_passwords():
    env = {
        "QBO_CLIENT_SECRET": "client-secret-1",
        "INVENTIV_DB_CONNECTION": "Driver=X;Server=h;PWD={p;a}}ss};Uid=u",
        "INVENTIV_FTP_URL": "ftp://user:url%20pass@host/dir",
    }
    redact = check.Redactor(check._env_secrets(env))
    text = redact("a client-secret-1 b p;a}ss c {p;a}}ss} d url pass e url%20pass")
    assert text == "a *** b *** c *** d *** e ***"


@pytest.mark.e2e
def test_reauthorization_date_shown_and_warned_14_days_ahead(
    monkeypatch, capsys, fresh_emulator, tmp_path
):
    """The refresh token's hard expiry (x_refresh_token_expires_in) is stored and shown."""
    emu = fresh_emulator()
    env = _stack_env(emu, tmp_path, (tmp_path / "ftp").as_uri())
    code, report, _ = _run(monkeypatch, capsys, env, "--only", "quickbooks")
    row = _rows(report)[("QuickBooks", "re-authorization")]
    assert code == 0 and row["status"] == "OK" and "(in 100 days)" in row["detail"], row
    # Tokens issued from now on live 10 days: the next check warns and says until when.
    emu.set_refresh_token_lifetime(10 * 86400)
    code, report, _ = _run(monkeypatch, capsys, env, "--only", "quickbooks")
    row = _rows(report)[("QuickBooks", "re-authorization")]
    assert row["status"] == "WARN" and "qbpa authorize" in row["fix"], row
    assert "(in 9 days)" in row["detail"] or "(in 10 days)" in row["detail"]
    assert code == 0  # a warning, not a failure: runs still work for 10 days


def test_the_sales_order_entity_is_set_in_one_place_only(monkeypatch, capsys, tmp_path):
    """The report names QBO_SALES_ORDER_ENTITY; an orders.toml [target] section is refused."""
    env = {"QBPA_DATA_DIR": str(tmp_path), "QBO_SALES_ORDER_ENTITY": "Invoice"}
    code, report, _ = _run(monkeypatch, capsys, env, "--only", "mappings")
    row = _rows(report)[("Mappings", "orders.toml")]
    assert code == 0 and "QBO_SALES_ORDER_ENTITY=Invoice" in row["detail"]
    folder = tmp_path / "mappings"
    folder.mkdir()
    text = (DEFAULT_MAPPINGS_DIR / "orders.toml").read_text()
    (folder / "orders.toml").write_text(
        text.replace("[header]", '[target]\nentity = "Estimate"\n\n[header]', 1)
    )
    env["QBPA_MAPPINGS_DIR"] = str(folder)
    code, report, _ = _run(monkeypatch, capsys, env, "--only", "mappings")
    row = _rows(report)[("Mappings", "orders.toml")]
    assert code == 1 and row["status"] == "FAIL"
    assert "QBO_SALES_ORDER_ENTITY" in row["detail"]
