"""``qbpa_assets.config``: every variable declared once, the README table equal to it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qbpa_assets import config
from qbpa_assets.lib.envfile import read_env_file
from qbpa_assets.ops_cli.show_config import readme_table

REPO = Path(__file__).resolve().parents[1]
# A variable read from the environment anywhere in the package: os.environ.get("X"),
# env.get("X"), os.getenv("X"), environ["X"], dg.EnvVar("X"), dg.EnvVar.int("X").
_READ = re.compile(
    r"""(?:environ|env|getenv|EnvVar(?:\.int)?)\s*(?:\.get)?[\(\[]\s*["']"""
    r"""((?:QBO|QBPA|INVENTIV)_[A-Z0-9_]+)["']"""
)


def _readme_table() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def test_readme_table_equals_the_declarations():
    """Every README row is a declared variable and every declared variable has its row."""
    table = _readme_table()
    documented = re.findall(r"^\| `([A-Z0-9_]+)` \|", table, flags=re.M)
    assert documented == [v.name for v in config.VARIABLES]
    assert table == readme_table(), (
        "README's Configuration table differs from qbpa_assets/config.py: paste the output "
        "of `qbpa config --markdown`"
    )


def test_every_variable_the_package_reads_is_declared():
    read = set()
    for path in (REPO / "qbpa_assets").rglob("*.py"):
        read |= set(_READ.findall(path.read_text()))
    assert read, "the pattern found no variable at all"
    assert read <= set(config.BY_NAME), sorted(read - set(config.BY_NAME))


def test_each_name_is_declared_once_with_a_meaning_and_a_system():
    names = [v.name for v in config.VARIABLES]
    assert len(names) == len(set(names))
    systems = {"quickbooks", "ftp", "database", "orders", "mappings", "warehouse", "alerts"}
    systems.add("settings")
    for v in config.VARIABLES:
        assert v.meaning and v.allowed and v.system in systems, v
        if v.default is not None:
            v.parse(v.default)  # every default is itself allowed


@pytest.mark.parametrize(
    ("name", "bad", "allowed_word"),
    [
        ("QBPA_TIMEZONE", "Nowhere/Bogus", "IANA"),
        ("QBPA_PARTITION_START", "garbage", "YYYY-MM-DD"),
        ("QBO_SALES_ORDER_ENTITY", "SalesOrder", "SalesReceipt"),
        ("QBPA_SALES_REP_SOURCE", "custom_field:", "custom_field:<name>"),
        ("QBO_MINOR_VERSION", "seventy-five", "integer"),
        ("QBO_ENVIRONMENT", "http://intuit.example", "sandbox"),
        ("INVENTIV_FTP_URL", "scp://h/x", "sftp://"),
        ("QBPA_DUCKDB_MEMORY_LIMIT", "lots", "512MB"),
        ("QBPA_ORDER_SENSOR_INTERVAL", "0", "integer"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_allowed_values(name, bad, allowed_word):
    with pytest.raises(config.ConfigError) as err:
        config.value(name, {name: bad})
    assert err.value.variable == name
    assert name in str(err.value) and allowed_word in str(err.value)
    # Import-time readers get the default instead of an exception.
    assert config.value_or_default(name, {name: bad}) == config.value(name, {})
    assert [p.variable for p in config.problems({name: bad})] == [name]


@pytest.mark.parametrize(
    ("name", "good"),
    [
        ("QBPA_SALES_REP_SOURCE", "employee"),
        ("QBPA_SALES_REP_SOURCE", "custom_field:Sales Rep"),
        ("QBPA_SALES_REP_SOURCE", "class"),
        ("QBO_SALES_ORDER_ENTITY", "Invoice"),
        ("QBPA_TIMEZONE", "America/Los_Angeles"),
        ("QBO_ENVIRONMENT", "https://127.0.0.1:9/.well-known/openid-configuration"),
        ("INVENTIV_FTP_URL", "file:///srv/drop"),
    ],
)
def test_allowed_values_pass(name, good):
    assert config.value(name, {name: good}) is not None
    assert config.problems({name: good}) == []


def test_a_secret_value_is_never_echoed():
    webhook = "not a url but a secret 1234"
    problems = config.problems({"QBPA_ALERT_WEBHOOK_URL": webhook})
    assert problems and webhook not in str(problems[0])


def test_the_example_env_file_documents_every_variable():
    """qbpa.env.example (the one environment file to copy) names every declared variable."""
    text = (REPO / "qbpa.env.example").read_text()
    named = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", text, flags=re.M))
    missing = {v.name for v in config.VARIABLES} - named - {"QBPA_ENV_FILE"}
    assert not missing, sorted(missing)
    # Every value it sets is allowed once its placeholders are filled in; secrets are placeholders.
    values = read_env_file(REPO / "qbpa.env.example")
    for name, value in values.items():
        if name in config.BY_NAME:
            filled = re.sub(r"<[A-Z][A-Z0-9_]*>", "x", value)
            assert config.problems({name: filled}) == [], name
            if config.get(name).secret:
                assert value.startswith("<") and value.endswith(">"), name


def test_the_demo_sets_only_declared_variables_and_refuses_a_bad_one(tmp_path, monkeypatch):
    from qbpa_assets.demo import demo_environment

    for name in config.BY_NAME:
        monkeypatch.delenv(name, raising=False)
    emulator = {"QBO_CLIENT_ID": "cid", "QBO_API_BASE_URL": "https://127.0.0.1:1/v3"}
    env = demo_environment(tmp_path, emulator, "Driver=SQLite3;Database=/x")
    assert set(env) <= set(config.BY_NAME), sorted(set(env) - set(config.BY_NAME))
    assert config.problems(env) == []
    monkeypatch.setenv("QBPA_TIMEZONE", "Nowhere/Bogus")
    with pytest.raises(SystemExit, match="QBPA_TIMEZONE is invalid"):
        demo_environment(tmp_path, emulator, "Driver=SQLite3;Database=/x")
