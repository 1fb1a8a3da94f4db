"""The export benchmark's naive baseline: python-quickbooks objects written with ``csv``.

What a straightforward Python integration does: fetch the JSON, ``json.loads``, build
``Customer.from_json`` / ``Invoice.from_json`` objects (python-quickbooks), walk them and write
rows with the ``csv`` module (fewer columns than the default layouts, same cleaning,
``LINE_TYPE`` and ``STATUS`` included).
"""

from __future__ import annotations

import csv
import json
import re
import time
from datetime import datetime
from pathlib import Path

import duckdb

_BREAKS = re.compile(r"[\t\r\n]+")


def _clean(value: object) -> str:
    if value is None:
        return ""
    return _BREAKS.sub(" ", str(value)).strip()


def _g(obj: object, *path: str) -> object:
    for name in path:
        obj = getattr(obj, name, None) if obj is not None else None
    return obj


def run(db: Path, out: Path, start: datetime, end: datetime) -> dict:
    """Write both files the naive way; return rows and seconds."""
    from quickbooks.objects.customer import Customer
    from quickbooks.objects.invoice import Invoice

    started, cpu_started = time.perf_counter(), time.process_time()

    con = duckdb.connect(str(db), read_only=True)
    kw = {
        "delimiter": "\t",
        "lineterminator": "\r\n",
        "quoting": csv.QUOTE_NONE,
        "escapechar": None,
        "quotechar": None,
    }
    cust_rows = inv_rows = 0
    with (out / "customer.fil").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, **kw)
        w.writerow(
            [
                "CUSTOMER_ID",
                "CUSTOMER_NAME",
                "COMPANY_NAME",
                "FIRST_NAME",
                "LAST_NAME",
                "EMAIL",
                "PHONE",
                "BILL_ADDR1",
                "BILL_CITY",
                "BILL_STATE",
                "BILL_ZIP",
                "SHIP_ADDR1",
                "SHIP_CITY",
                "TERMS",
                "BALANCE",
                "ACTIVE",
            ]
        )
        cur = con.execute(
            "SELECT payload FROM quickbooks.customers ORDER BY TRY_CAST(id AS BIGINT)"
        )
        while batch := cur.fetchmany(10_000):
            for (payload,) in batch:
                c = Customer.from_json(json.loads(payload))
                w.writerow(
                    [
                        _clean(x)
                        for x in (
                            c.Id,
                            c.DisplayName,
                            c.CompanyName,
                            c.GivenName,
                            c.FamilyName,
                            _g(c, "PrimaryEmailAddr", "Address"),
                            _g(c, "PrimaryPhone", "FreeFormNumber"),
                            _g(c, "BillAddr", "Line1"),
                            _g(c, "BillAddr", "City"),
                            _g(c, "BillAddr", "CountrySubDivisionCode"),
                            _g(c, "BillAddr", "PostalCode"),
                            _g(c, "ShipAddr", "Line1"),
                            _g(c, "ShipAddr", "City"),
                            _g(c, "SalesTermRef", "name"),
                            c.Balance,
                            "Y" if c.Active else "N",
                        )
                    ]
                )
                cust_rows += 1
    with (out / "invoice.fil").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, **kw)
        w.writerow(
            [
                "INVOICE_ID",
                "INVOICE_NO",
                "INVOICE_DATE",
                "DUE_DATE",
                "CUSTOMER_ID",
                "CUSTOMER_NAME",
                "TERMS",
                "LINE_NO",
                "LINE_TYPE",
                "LINE_ID",
                "ITEM_ID",
                "ITEM_NAME",
                "DESCRIPTION",
                "QTY",
                "UNIT_PRICE",
                "AMOUNT",
                "INVOICE_TOTAL",
                "BALANCE",
                "STATUS",
            ]
        )
        cur = con.execute(
            "SELECT payload FROM quickbooks.invoices WHERE NOT deleted "
            "AND last_updated >= ? AND last_updated < ? ORDER BY TRY_CAST(id AS BIGINT)",
            [start, end],
        )
        end_date = end.date().isoformat()
        kinds = {"SalesItemLineDetail": "SalesItem", "DiscountLineDetail": "Discount"}
        while batch := cur.fetchmany(5_000):
            for (payload,) in batch:
                inv = Invoice.from_json(json.loads(payload))
                if inv.TotalAmt == 0 and inv.PrivateNote == "Voided":
                    status = "Voided"
                elif inv.Balance == 0:
                    status = "Paid"
                else:
                    status = "Overdue" if (inv.DueDate or end_date) < end_date else "Open"
                n = 0
                for line in inv.Line:
                    kind = kinds.get(getattr(line, "DetailType", None))
                    if kind is None:
                        continue
                    n += 1
                    d = getattr(line, "SalesItemLineDetail", None)
                    w.writerow(
                        [
                            _clean(x)
                            for x in (
                                inv.Id,
                                inv.DocNumber,
                                inv.TxnDate,
                                inv.DueDate,
                                _g(inv, "CustomerRef", "value"),
                                _g(inv, "CustomerRef", "name"),
                                _g(inv, "SalesTermRef", "name"),
                                n,
                                kind,
                                line.Id,
                                _g(d, "ItemRef", "value"),
                                _g(d, "ItemRef", "name"),
                                line.Description,
                                _g(d, "Qty"),
                                _g(d, "UnitPrice"),
                                line.Amount,
                                inv.TotalAmt,
                                inv.Balance,
                                status,
                            )
                        ]
                    )
                    inv_rows += 1
    con.close()
    return {
        "customer_rows": cust_rows,
        "invoice_rows": inv_rows,
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu_started,
    }
