"""The DuckDB warehouse, shared by every flow.

:mod:`.raw` lands QuickBooks pages as raw JSON tables, :mod:`.flatten` holds the SQL building
blocks that type and flatten them (used by ``lib/master_data`` and ``lib/invoices``),
:mod:`.tables` the generic helpers (schemas, counts, which tables exist) and :mod:`.filwriter`
writes a ``.fil`` file from a staged table in one ``COPY``.
"""
