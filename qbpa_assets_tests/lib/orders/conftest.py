"""The order tests' ``env`` fixture (fixtures/orders.py) for every module here.

test_status.py defines its own ``env`` over it (a subclass of :class:`Env`).
"""

from qbpa_assets_tests.fixtures.orders import env  # noqa: F401 - a fixture
