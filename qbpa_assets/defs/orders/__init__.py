"""Orders flow, the Dagster side: PocketAdvantage orders → QuickBooks sales documents.

- ``sensors.py``: ``inventiv_new_orders_sensor`` watches the Inventiv database every minute and
  asks ``sales_order_import_job`` for each day with new or changed orders (failed days again,
  with backoff).
- ``assets.py``: ``inventiv_db/orders`` (the day copied into DuckDB) → ``quickbooks/sales_orders``
  (created in QuickBooks exactly once; the ledger, with the ``no_rejected_orders`` check), and
  ``sales_order_import_job``.

The logic lives in ``qbpa_assets/lib/orders/`` (its docstring follows one order step by step);
the resources in ``defs/resources/inventiv_db.py`` and ``defs/resources/quickbooks.py``.
"""
