"""Master data, nightly, full: QuickBooks customers, items, vendors, reps → ``.fil`` files.

Each night (``nightly_master_data_schedule``, 02:00 in ``QBPA_TIMEZONE``) the
``nightly_master_data_job`` runs, per entity:

1. ``quickbooks/customers``, ``quickbooks/items`` — every row, active and inactive, landed as raw
   JSON (:mod:`.assets`; the client is :mod:`qbpa_assets.lib.quickbooks.client`, the landing SQL
   :mod:`qbpa_assets.lib.warehouse.raw`).
2. ``staging/customers``, ``staging/items`` — typed, flattened tables (:mod:`.assets`; the SQL is
   :mod:`qbpa_assets.lib.master_data.staging`), guarded by the blocking id checks in
   :mod:`.checks`.
3. ``inventiv_ftp/customer_fil``, ``inventiv_ftp/item_fil`` — the files, written from the layouts
   ``qbpa_assets/mappings/customer.fil.toml`` / ``item.fil.toml``
   (:mod:`qbpa_assets.lib.warehouse.filwriter`) and uploaded to ``latest<account_id>/``
   (:mod:`qbpa_assets.defs.inventiv_ftp`, :mod:`qbpa_assets.lib.inventiv.ftp`).

Vendors and sales reps follow the same three steps: :mod:`.vendors`, :mod:`.sales_reps` (their
SQL in :mod:`qbpa_assets.lib.master_data.vendors` / ``.sales_reps``). The job and its schedule:
:mod:`.jobs`. The staged tables also serve the order validation (:mod:`qbpa_assets.defs.orders`).
"""
