r"""The export benchmark's reference: the same two files in plain DuckDB, as lean as it gets.

Raw table → a minimal persisted staged table (one ``json_transform`` with only the keys the file
needs, lines unnested with their position) → one ``COPY`` per file that cleans the free-text
columns (each run of tabs/CRs/LFs → one space, outer blanks trimmed; clean values untouched),
formats dates and timestamps, and sorts by the numeric id (and line position). Numbers are
written as QuickBooks sent them (the JSON text), like the default layouts' ``*_text`` columns.

It handles the line kind the generated invoices hold (top-level sales lines) and the default
sales-rep source (Employees: no rep on a transaction, an empty SALESREP_ID); the production
staging also expands group lines, keeps discount lines, writes deleted invoices and reads reps
from classes or custom fields. Its files
must be byte-identical to the production path's on the benchmark data.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import duckdb

_V = "VARCHAR"
_ADDR = {k: _V for k in ("Line1", "Line2", "City", "CountrySubDivisionCode", "PostalCode")}
_ADDR["Country"] = _V
CUSTOMER_SHAPE = {
    "DisplayName": _V,
    "CompanyName": _V,
    "GivenName": _V,
    "FamilyName": _V,
    "PrimaryEmailAddr": {"Address": _V},
    "PrimaryPhone": {"FreeFormNumber": _V},
    "Mobile": {"FreeFormNumber": _V},
    "Fax": {"FreeFormNumber": _V},
    "BillAddr": _ADDR,
    "ShipAddr": _ADDR,
    "SalesTermRef": {"name": _V},
    "Taxable": "BOOLEAN",
    "Balance": _V,
    "ParentRef": {"value": _V},
    "Active": "BOOLEAN",
    "MetaData": {"LastUpdatedTime": "TIMESTAMPTZ"},
}
INVOICE_SHAPE = {
    "DocNumber": _V,
    "TxnDate": "DATE",
    "DueDate": "DATE",
    "ShipDate": "DATE",
    "CustomerRef": {"value": _V, "name": _V},
    "SalesTermRef": {"name": _V},
    "TotalAmt": _V,
    "Balance": _V,
    "TxnTaxDetail": {"TotalTax": _V},
    "PrivateNote": _V,
    "Line": [
        {
            "Id": _V,
            "Description": _V,
            "Amount": _V,
            "DetailType": _V,
            "SalesItemLineDetail": {
                "ItemRef": {"value": _V, "name": _V},
                "UnitPrice": _V,
                "Qty": _V,
                "ServiceDate": "DATE",
            },
        }
    ],
}


def _shape(shape: dict) -> str:
    return "'" + json.dumps(shape, separators=(",", ":")) + "'"


STAGE_CUSTOMERS = f"""
CREATE OR REPLACE TABLE ref.customers AS
SELECT TRY_CAST(id AS BIGINT) AS id_num, id, c.DisplayName AS display_name,
       c.CompanyName AS company_name, c.GivenName AS given_name, c.FamilyName AS family_name,
       c.PrimaryEmailAddr.Address AS email, c.PrimaryPhone.FreeFormNumber AS phone,
       c.Mobile.FreeFormNumber AS mobile, c.Fax.FreeFormNumber AS fax,
       c.BillAddr AS bill, c.ShipAddr AS ship, c.SalesTermRef.name AS terms, c.Taxable AS taxable,
       c.Balance AS balance, c.ParentRef.value AS parent_id,
       coalesce(active, c.Active, true) AS active,
       coalesce(last_updated, c.MetaData.LastUpdatedTime) AS last_updated
FROM (SELECT id, active, last_updated, json_transform(payload, {_shape(CUSTOMER_SHAPE)}) AS c
      FROM quickbooks.customers)
"""

COPY_CUSTOMERS = """
COPY (
  SELECT cl(id) AS CUSTOMER_ID, cl(display_name) AS CUSTOMER_NAME, cl(company_name) AS COMPANY_NAME,
    cl(given_name) AS FIRST_NAME, cl(family_name) AS LAST_NAME, cl(email) AS EMAIL,
    cl(phone) AS PHONE, cl(mobile) AS MOBILE, cl(fax) AS FAX,
    cl(bill.Line1) AS BILL_ADDR1, cl(bill.Line2) AS BILL_ADDR2, cl(bill.City) AS BILL_CITY,
    cl(bill.CountrySubDivisionCode) AS BILL_STATE, cl(bill.PostalCode) AS BILL_ZIP,
    cl(bill.Country) AS BILL_COUNTRY,
    cl(ship.Line1) AS SHIP_ADDR1, cl(ship.Line2) AS SHIP_ADDR2, cl(ship.City) AS SHIP_CITY,
    cl(ship.CountrySubDivisionCode) AS SHIP_STATE, cl(ship.PostalCode) AS SHIP_ZIP,
    cl(ship.Country) AS SHIP_COUNTRY, cl(terms) AS TERMS, NULL AS SALESREP_ID,
    CASE WHEN taxable THEN 'Y' WHEN NOT taxable THEN 'N' END AS TAXABLE,
    balance AS BALANCE, cl(parent_id) AS PARENT_ID,
    CASE WHEN active THEN 'Y' ELSE 'N' END AS ACTIVE,
    strftime(last_updated, '%Y-%m-%d %H:%M:%S') AS LAST_MODIFIED
  FROM ref.customers ORDER BY id_num NULLS LAST, id
) TO $path (FORMAT csv, DELIMITER '\t', HEADER, NEW_LINE '\r\n', QUOTE '', ESCAPE '', NULLSTR '')
"""

STAGE_INVOICE_LINES = f"""
CREATE OR REPLACE TABLE ref.invoice_lines AS
WITH inv AS (
  SELECT id, last_updated, json_transform(payload, {_shape(INVOICE_SHAPE)}) AS v
  FROM quickbooks.invoices
  WHERE NOT coalesce(deleted, false) AND last_updated >= $start AND last_updated < $end
), lines AS (
  SELECT id, last_updated, v.DocNumber AS doc_number, v.TxnDate AS txn_date,
         v.DueDate AS due_date, v.ShipDate AS ship_date, v.CustomerRef.value AS customer_id,
         v.CustomerRef.name AS customer_name, v.SalesTermRef.name AS terms,
         v.TotalAmt AS total_amt, v.Balance AS balance, v.TxnTaxDetail.TotalTax AS total_tax,
         list_sum(list_transform(list_filter(v.Line, lambda x: x.DetailType = 'DiscountLineDetail'),
                                 lambda x: TRY_CAST(x.Amount AS DOUBLE))) AS discount,
         CASE WHEN TRY_CAST(v.TotalAmt AS DOUBLE) = 0
                   AND lower(trim(v.PrivateNote)) = 'voided' THEN 'Voided'
              WHEN TRY_CAST(v.Balance AS DOUBLE) = 0 THEN 'Paid'
              WHEN v.DueDate < $end_date THEN 'Overdue' ELSE 'Open' END AS status,
         unnest(v.Line) AS l, CAST(generate_subscripts(v.Line, 1) AS INTEGER) AS line_no
  FROM inv
)
SELECT TRY_CAST(id AS BIGINT) AS id_num, id, doc_number, txn_date, due_date, ship_date,
       customer_id, customer_name, terms, line_no, l.Id AS line_id,
       l.SalesItemLineDetail.ItemRef.value AS item_id,
       l.SalesItemLineDetail.ItemRef.name AS item_name, l.Description AS description,
       l.SalesItemLineDetail.Qty AS qty, l.SalesItemLineDetail.UnitPrice AS unit_price,
       l.Amount AS amount, l.SalesItemLineDetail.ServiceDate AS service_date, discount,
       total_tax, total_amt, balance, status, last_updated
FROM lines WHERE l.DetailType = 'SalesItemLineDetail'
"""

COPY_INVOICE_LINES = """
COPY (
  SELECT cl(id) AS INVOICE_ID, cl(doc_number) AS INVOICE_NO,
    strftime(txn_date, '%Y-%m-%d') AS INVOICE_DATE, strftime(due_date, '%Y-%m-%d') AS DUE_DATE,
    strftime(ship_date, '%Y-%m-%d') AS SHIP_DATE, cl(customer_id) AS CUSTOMER_ID,
    cl(customer_name) AS CUSTOMER_NAME, cl(terms) AS TERMS,
    NULL AS SALESREP_ID, line_no AS LINE_NO,
    'SalesItem' AS LINE_TYPE, cl(line_id) AS LINE_ID, cl(item_id) AS ITEM_ID,
    cl(item_name) AS ITEM_NAME, cl(description) AS DESCRIPTION, qty AS QTY,
    unit_price AS UNIT_PRICE, amount AS AMOUNT, NULL AS DISCOUNT_PERCENT, NULL AS GROUP_ITEM_ID,
    strftime(service_date, '%Y-%m-%d') AS SERVICE_DATE, discount AS DISCOUNT, total_tax AS TAX,
    total_amt AS INVOICE_TOTAL, balance AS BALANCE, status AS STATUS,
    strftime(last_updated, '%Y-%m-%d %H:%M:%S') AS LAST_MODIFIED
  FROM ref.invoice_lines ORDER BY id_num NULLS LAST, id, line_no
) TO $path (FORMAT csv, DELIMITER '\t', HEADER, NEW_LINE '\r\n', QUOTE '', ESCAPE '', NULLSTR '')
"""


def run(db: Path, out: Path, start: datetime, end: datetime, memory_limit: str | None) -> dict:
    """Stage and write customer.fil and invoice.fil; return rows and seconds."""
    started, cpu_started = time.perf_counter(), time.process_time()
    con = duckdb.connect(str(db))
    con.execute("SET TimeZone = 'UTC'")
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
        con.execute("SET temp_directory = ?", [str(db.parent / "tmp")])
    con.execute("CREATE SCHEMA ref")
    # The same cleaning as the production writer: a value without a tab, CR, LF or outer blank
    # passes unchanged; the others get the regexp and the trim.
    con.execute(
        r"""CREATE TEMP MACRO cl(x) AS CASE
              WHEN contains(x, chr(9)) OR contains(x, chr(13)) OR contains(x, chr(10))
                OR starts_with(x, ' ') OR ends_with(x, ' ')
              THEN trim(regexp_replace(x, '[\t\r\n]+', ' ', 'g')) ELSE x END"""
    )
    con.execute(STAGE_CUSTOMERS)
    cust = con.execute(COPY_CUSTOMERS, {"path": str(out / "customer.fil")}).fetchone()[0]
    window = {"start": start, "end": end}
    con.execute(STAGE_INVOICE_LINES, {**window, "end_date": end.date()})
    inv = con.execute(COPY_INVOICE_LINES, {"path": str(out / "invoice.fil")}).fetchone()[0]
    con.close()
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu_started,
        "customer_rows": cust,
        "invoice_rows": inv,
    }
