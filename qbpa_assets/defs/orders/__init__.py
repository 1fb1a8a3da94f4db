"""Orders flow, the Dagster side: PocketAdvantage orders → QuickBooks sales documents.

- ``sensors.py``: ``inventiv_new_orders_sensor`` watches the Inventiv database every minute and
  asks ``sales_order_import_job`` for each day with new or changed orders (failed days again,
  with backoff).
- ``assets.py``: ``inventiv_db/orders`` (the day copied into DuckDB) → ``quickbooks/sales_orders``
  (created in QuickBooks exactly once; the ledger, with the ``no_rejected_orders`` check over
  the open rejects of every day), and ``sales_order_import_job``.
- ``edits.py``: the step of ``quickbooks/sales_orders`` that applies edits and cancellations
  made in PocketAdvantage to documents still open.
- ``status.py``: ``quickbooks/sales_order_status`` (QuickBooks read back, open rejects alerted)
  → ``inventiv_db/order_status`` (each order's status into the Inventiv database), in every
  order run and in ``order_status_job`` after the nightly master data.
- ``reconciliation.py``: the ``orders_reconciled`` check (the day's orders in the Inventiv
  database against the ledger and QuickBooks).

The logic lives in ``qbpa_assets/lib/orders/`` (its docstring follows one order step by step);
the resources in ``defs/resources/inventiv_db.py`` and ``defs/resources/quickbooks.py``.
"""
