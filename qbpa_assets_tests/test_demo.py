"""`qbpa demo` (what `make demo` runs) works end to end and says where the results are."""

import subprocess
import sys

import pytest

from qbpa_assets.demo import DEMO_COMPANY
from qbpa_assets.sandbox.company import generate_company
from qbpa_assets.sandbox.company.reps import initials


@pytest.mark.slow
@pytest.mark.e2e
def test_demo_runs_every_flow_and_prints_the_results(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    data = tmp_path / "demo"
    env_cmd = [sys.executable, "-m", "qbpa_assets.cli"]
    yaml = subprocess.run([*env_cmd, "instance-yaml"], capture_output=True, text=True, check=True)
    (home / "dagster.yaml").write_text(yaml.stdout)
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBO_", "INVENTIV_", "QBPA_"))}
    env["DAGSTER_HOME"] = str(home)
    args = [
        "demo",
        "--data-dir",
        str(data),
        "--customers",
        "30",
        "--items",
        "20",
        "--invoices",
        "60",
        "--orders",
        "12",
    ]
    out = subprocess.run(
        [*env_cmd, *args], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    remote = data / "inventiv_ftp" / "latestdemo"
    for name in ("customer.fil", "item.fil", "invoice.fil", "vendor.fil", "salesrep.fil"):
        assert str(remote / name) in out.stdout
        assert (remote / name).stat().st_size > 0
    customers = (remote / "customer.fil").read_bytes().split(b"\r\n")
    assert len(customers) - 2 == 30  # header + 30 rows + the empty string after the last CRLF
    assert "rejected" in out.stdout and "Estimates now in the emulator" in out.stdout
    created = int(out.stdout.split("sales orders: ")[1].split(" created")[0])
    estimates = int(out.stdout.split("Estimates now in the emulator: ")[1].split()[0])
    assert created == estimates > 0
    # The rep travels on the Estimates: the demo reads them from its emulator; each created one
    # carries the "Sales Rep" custom field with an active rep's initials (the REP_IDs are
    # Employee Ids), and the order of the inactive rep is rejected with its reason.
    company = generate_company(**{**DEMO_COMPANY, "customers": 30, "items": 20, "invoices": 60})
    active = {initials(e["DisplayName"]) for e in company.employees if e["Active"]}
    inactive = next(e for e in company.employees if not e["Active"])
    line = out.stdout.split("sales rep on the Estimates (custom_field:Sales Rep): ")[1]
    line = line.splitlines()[0]
    assert line.startswith(f"{estimates} of {estimates} carry the 'Sales Rep' custom field — ")
    values = dict(v.rsplit(" ", 1) for v in line.split(" — ")[1].split(", "))
    assert set(values) <= active and sum(int(n) for n in values.values()) == estimates
    assert f"sales rep {inactive['Id']} ({inactive['DisplayName']}) is inactive" in out.stdout

    # A second demo starts from the same state and ends with the same result.
    again = subprocess.run(
        [*env_cmd, *args], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"Estimates now in the emulator: {estimates}" in again.stdout
