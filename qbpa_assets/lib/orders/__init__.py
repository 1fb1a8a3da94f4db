"""Orders: PocketAdvantage orders from the Inventiv database → QuickBooks sales documents.

One order's way, step by step (Dagster objects in ``qbpa_assets/defs/orders/``, plain Python
here; the mapping is ``qbpa_assets/mappings/orders.toml``, overridable in ``QBPA_MAPPINGS_DIR``):

1. ``defs/orders/sensors.py`` notices new or changed orders every minute
   (:mod:`.new_orders`, over the generic ODBC client ``lib/inventiv/db.py``) and asks
   ``sales_order_import_job`` for their day.
2. ``defs/orders/assets.py`` ``inventiv_db/orders`` copies the day into DuckDB
   (:mod:`.copy`, tables in :mod:`.tables`, driver values normalised by :mod:`.values`).
3. ``defs/orders/assets.py`` ``quickbooks/sales_orders`` runs the engine (:mod:`.importer`):
   the mapping is loaded and checked first (:mod:`.mapping`, through ``lib/mappings.py``);
   every reason an order cannot be sent is collected in SQL (:mod:`.validate`); valid orders
   become payloads within QuickBooks' limits, each with qbpa's marker (:mod:`.payloads`); an
   order number used twice is refused; DocNumbers are looked up and only this order's own
   documents adopted (:mod:`.lookup`); the rest is sent in batches with deterministic request
   ids (:mod:`.batches`, the QuickBooks client ``lib/quickbooks/``); every outcome goes into the
   ledger ``quickbooks.sales_orders`` (:mod:`.ledger`, outcomes in :mod:`.results`) and the
   rejects into the run's metadata (:mod:`.report`).
4. In the same run, an order edited or cancelled in PocketAdvantage after its document was made
   is applied to that document while it is still open (:mod:`.edits`, recorded by
   :mod:`.changes`); rejects of every day are listed by :mod:`.rejects`.
5. ``defs/orders/status.py`` reads back what QuickBooks says of each document (:mod:`.followup`)
   and writes each order's status into the Inventiv database (:mod:`.status`, the target SQL in
   :mod:`.status_sql`); ``orders_reconciled`` compares the day's orders (:mod:`.reconcile`).

Exactly once rests on three legs, because a run can die at any point: the ledger (orders in it
are never sent again), the DocNumber look-up with the marker (a document a crashed run created
is adopted, never re-created; someone else's document is never adopted), and the batch
``requestid`` (a retried request is answered from QuickBooks' idempotency cache). An order
changed in PocketAdvantage after it was created is never re-created (step 4 updates it).
"""
