"""Invoices (daily windows): the plain-Python steps.

QuickBooks invoices changed in a window → ``quickbooks.invoices`` (raw JSON, upserted by
:mod:`qbpa_assets.lib.warehouse.raw`) → ``staging.invoice_lines`` (:mod:`.staging`) →
``invoice.fil`` (:mod:`qbpa_assets.lib.warehouse.filwriter`, layout
``qbpa_assets/mappings/invoice.fil.toml``). The Dagster side is :mod:`qbpa_assets.defs.invoices`.
"""
