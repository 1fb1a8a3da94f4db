"""The ``qbpa`` entry point: ``--version``, the environment file, ``qbpa config``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from qbpa_assets import config
from qbpa_assets.lib.envfile import read_env_file
from qbpa_assets.ops_cli.show_config import readme_table

REPO = Path(__file__).resolve().parents[2]


def _qbpa(*args: str, cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBO_", "INVENTIV_", "QBPA_"))}
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-m", "qbpa_assets.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_version(tmp_path):
    out = _qbpa("--version", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == f"qbpa {version('qbpa_assets')}"


def test_env_file_is_read_and_the_environment_wins(tmp_path):
    (tmp_path / "qbpa.env").write_text(
        "# a comment\n"
        "export QBPA_TIMEZONE=America/Chicago\n"
        'QBO_SALES_ORDER_ENTITY="Invoice"\n'
        "QBPA_PARTITION_START=2026-03-01\n"
        "QBO_CLIENT_SECRET=secret-from-the-file\n"
    )
    out = _qbpa("config", cwd=tmp_path, QBPA_PARTITION_START="2026-04-01")
    assert out.returncode == 0, out.stdout + out.stderr
    rows = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()}
    assert rows["QBPA_TIMEZONE"] == ["America/Chicago", "qbpa.env", "ok"]
    assert rows["QBO_SALES_ORDER_ENTITY"] == ["Invoice", "qbpa.env", "ok"]
    assert rows["QBPA_PARTITION_START"] == ["2026-04-01", "environment", "ok"]
    assert rows["QBO_CLIENT_SECRET"] == ["***", "qbpa.env", "ok"]
    assert "secret-from-the-file" not in out.stdout
    assert rows["QBPA_DATA_DIR"] == ["./var", "default", "ok"]


def test_qbpa_config_names_a_bad_value_and_its_allowed_values(tmp_path):
    out = _qbpa("config", cwd=tmp_path, QBPA_TIMEZONE="Nowhere/Bogus")
    assert out.returncode == 1
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("QBPA_TIMEZONE"))
    assert "INVALID" in line and "IANA time zone" in line


def test_a_placeholder_left_from_the_example_is_an_error():
    problems = config.problems({"QBO_CLIENT_ID": "<INTUIT_CLIENT_ID>"})
    assert [p.variable for p in problems] == ["QBO_CLIENT_ID"]
    assert "placeholder" in str(problems[0])


def test_config_markdown_prints_the_readme_table(tmp_path):
    out = _qbpa("config", "--markdown", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == readme_table()


def test_env_file_format(tmp_path):
    path = tmp_path / "x.env"
    path.write_text("A=1\n  export B = two words \n#C=3\nD='q'\nnot an assignment\n")
    assert read_env_file(path) == {"A": "1", "B": "two words", "D": "q"}


@pytest.mark.e2e
def test_sandbox_serve_prints_a_qbpa_env_that_qbpa_check_accepts(tmp_path):
    """`qbpa sandbox serve --env` prints qbpa.env lines; qbpa reads them from the file."""
    serve = subprocess.Popen(
        [sys.executable, "-m", "qbpa_assets.cli", "sandbox", "serve", "--env"]
        + ["--customers", "5", "--items", "5", "--invoices", "5", "--workdir", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [serve.stdout.readline().strip() for _ in range(7)]
        assert all(re.fullmatch(r"QBO_[A-Z_]+=\S+", line) for line in lines), lines
        env_file = tmp_path / "qbpa.env"
        env_file.write_text("\n".join(lines) + f"\nQBPA_DATA_DIR={tmp_path / 'var'}\n")
        out = _qbpa("check", "--only", "quickbooks", cwd=tmp_path, QBPA_ENV_FILE=str(env_file))
        assert out.returncode == 0, out.stdout[-3000:]
        assert str(env_file) in out.stdout and "FAIL" not in out.stdout
    finally:
        serve.terminate()
        serve.wait(timeout=10)
