"""Operational alerts: failed runs, stale ``.fil`` files, rejected orders, token expiry.

Sensors that only notify (webhook and/or e-mail through :func:`qbpa_assets.lib.alerts.notify`):
``qbpa_run_failure_alert`` and ``qbpa_rejected_orders_alert`` (:mod:`.sensors`),
``qbpa_stale_file_alert`` (:mod:`.freshness`), ``qbpa_token_expiry_alert`` (:mod:`.token_expiry`).
"""
