"""Invoices, nightly, daily partitions: invoices changed in a day → ``invoice.fil``.

Each night (``nightly_invoice_schedule``, 02:30 in ``QBPA_TIMEZONE``) the ``nightly_invoice_job``
runs yesterday's partition; any past day or range can be re-run or backfilled from the UI:

1. ``quickbooks/invoices`` — invoices whose ``MetaData.LastUpdatedTime`` is in the window, upserted
   by Id, deletions from CDC as tombstones (:mod:`.assets`; the client is
   :mod:`qbpa_assets.lib.quickbooks.client`, the landing SQL :mod:`qbpa_assets.lib.warehouse.raw`).
2. ``staging/invoice_lines`` — one row per sales/discount line, group lines expanded
   (:mod:`.assets`; the SQL is :mod:`qbpa_assets.lib.invoices.staging`), with the reference check
   in :mod:`.checks`.
3. ``inventiv_ftp/invoice_fil`` — the file, written from ``qbpa_assets/mappings/invoice.fil.toml``
   (:mod:`qbpa_assets.lib.warehouse.filwriter`) and uploaded to ``latest<account_id>/``
   (:mod:`qbpa_assets.defs.inventiv_ftp`, :mod:`qbpa_assets.lib.inventiv.ftp`).

The job and its schedule: :mod:`.jobs`.
"""
