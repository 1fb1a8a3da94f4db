"""Master data (customers, items, vendors and sales reps): the plain-Python steps.

QuickBooks → ``quickbooks.<entity>`` (raw JSON, landed by :mod:`qbpa_assets.lib.warehouse.raw`)
→ ``staging.<entity>`` (:mod:`.staging` for customers and items and :mod:`.vendors`, both built
on :mod:`.list_sql`; :mod:`.sales_reps` with :mod:`.rep_source`) → ``<entity>.fil`` (written by
:mod:`qbpa_assets.lib.warehouse.filwriter` from a layout in ``qbpa_assets/mappings/``). The
Dagster side of the flow is :mod:`qbpa_assets.defs.master_data`.
"""
