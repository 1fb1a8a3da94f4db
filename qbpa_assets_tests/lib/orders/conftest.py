"""The order tests' ``env`` fixture (defined in test_import.py) for every module here.

test_exactly_once.py uses it as it is; test_status.py defines its own ``env`` over it.
"""

from qbpa_assets_tests.lib.orders.test_import import env  # noqa: F401 - a fixture
