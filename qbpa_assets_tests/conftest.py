"""Session-wide fixtures: one emulator, one sshd, one ODBC database per test session."""

pytest_plugins = [
    "qbpa_assets_tests.fixtures.emulator",
    "qbpa_assets_tests.fixtures.servers",
    "qbpa_assets_tests.fixtures.odbc",
    "qbpa_assets_tests.fixtures.qbo_rows",
    "qbpa_assets_tests.fixtures.stack",
    "qbpa_assets_tests.fixtures.alerting",
]
