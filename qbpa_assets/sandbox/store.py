"""The company's data as QBO keeps it: tables by entity, Ids, SyncTokens, MetaData, tombstones.

Objects are replaced, never mutated, so that a reader holding one sees a consistent version.
Transactions (Invoice, Estimate, SalesReceipt) share one Id sequence, as in QBO; every other
entity has its own. The company's clock (:meth:`DataStore.set_clock`) stamps every change.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
from typing import Any

from qbpa_assets.sandbox.company import COMPANY_TZ, SampleCompany
from qbpa_assets.sandbox.faults import inactive_ref, invalid_ref
from qbpa_assets.sandbox.wire import JSON

TXN_ENTITIES = ("Invoice", "Estimate", "SalesReceipt")
ENTITIES = (
    "Customer",
    "Item",
    "Invoice",
    "Estimate",
    "SalesReceipt",
    "Term",
    "Account",
    "Employee",
    "Vendor",
    "Class",
    "Preferences",
    "CompanyInfo",
)
CANONICAL = {name.lower(): name for name in ENTITIES}


def company_info(company: SampleCompany) -> JSON:
    """Return the ``CompanyInfo`` object of a company."""
    return {
        "CompanyName": company.company_name,
        "LegalName": company.company_name + " LLC",
        "CompanyAddr": {
            "Id": "1",
            "Line1": "123 Sierra Way",
            "City": "San Pablo",
            "CountrySubDivisionCode": "CA",
            "PostalCode": "87999",
        },
        "Country": "US",
        "Email": {"Address": "noreply@example.com"},
        "SupportedLanguages": "en",
        "FiscalYearStartMonth": "January",
        "NameValue": [{"Name": "QBOIndustryType", "Value": "Wholesale Distribution"}],
        "domain": "QBO",
        "sparse": False,
        "Id": "1",
        "SyncToken": "0",
        "MetaData": {"CreateTime": "2020-01-01T09:00:00-08:00"},
    }


class DataStore:
    """Tables, indexes and the clock; the base every part of the API works on."""

    _lock: threading.RLock
    _clock: dt.datetime | None

    def _init_store(self, company: SampleCompany) -> None:
        self._lock = threading.RLock()
        self._clock = None
        self._tables: dict[str, dict[str, JSON]] = {name: {} for name in ENTITIES}
        self._tombstones: dict[str, dict[str, JSON]] = {name: {} for name in ENTITIES}
        self._versions: dict[str, int] = collections.defaultdict(int)
        self._doc_numbers: dict[str, dict[str, str]] = {name: {} for name in TXN_ENTITIES}
        self._next_id: dict[str, int] = {}
        self._load(company)

    # ------------------------------------------------------------------ clock

    @property
    def now(self) -> dt.datetime:
        """The emulator's current time (aware, UTC); see :meth:`set_clock`."""
        return self._clock or dt.datetime.now(dt.UTC)

    def set_clock(self, when: dt.datetime | None) -> None:
        """Freeze the clock used for timestamps, token expiry and throttle windows (None: real)."""
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        self._clock = when

    def _ts(self) -> float:
        return self.now.timestamp()

    def _qbo_now(self) -> str:
        return self.now.astimezone(COMPANY_TZ).isoformat(timespec="seconds")

    def _time_field(self) -> str:
        return self.now.astimezone(COMPANY_TZ).isoformat(timespec="milliseconds")

    # ------------------------------------------------------------------ tables

    def _entity(self, name: str) -> str:
        entity = CANONICAL.get(str(name).lower())
        if entity is None:
            raise KeyError(f"unknown entity {name!r}")
        return entity

    def _load(self, company: SampleCompany) -> None:
        tables = {
            "Customer": company.customers,
            "Item": company.items,
            "Invoice": company.invoices,
            "Term": company.terms,
            "Account": company.accounts,
            "Employee": company.employees,
            "Vendor": company.vendors,
            "Class": company.classes,
        }
        for entity, rows in tables.items():
            self._tables[entity] = {row["Id"]: row for row in rows}
        for tomb in company.deleted_invoices:
            self._tombstones["Invoice"][tomb["Id"]] = tomb
        for entity in TXN_ENTITIES:
            for txn in self._tables[entity].values():
                if txn.get("DocNumber"):
                    self._doc_numbers[entity][txn["DocNumber"]] = txn["Id"]
        self._tables["Preferences"] = {"1": company.preferences}
        self._tables["CompanyInfo"] = {"1": company_info(company)}
        txn_ids = [
            int(i)
            for entity in TXN_ENTITIES
            for i in (*self._tables[entity], *self._tombstones[entity])
            if str(i).isdigit()
        ]
        self._next_id["txn"] = max(txn_ids, default=100) + 1
        for entity in ENTITIES:
            if entity not in TXN_ENTITIES:
                ids = [int(i) for i in self._tables[entity] if str(i).isdigit()]
                self._next_id[entity] = max(ids, default=0) + 1

    def _new_id(self, entity: str) -> str:
        key = "txn" if entity in TXN_ENTITIES else entity
        value = self._next_id.get(key, 1)
        self._next_id[key] = value + 1
        return str(value)

    def _touch(self, obj: JSON) -> JSON:
        meta = dict(obj.get("MetaData") or {})
        now = self._qbo_now()
        meta.setdefault("CreateTime", now)
        meta["LastUpdatedTime"] = now
        obj["MetaData"] = meta
        return obj

    def _store(self, entity: str, obj: JSON) -> None:
        old = self._tables[entity].get(obj["Id"])
        if entity in self._doc_numbers:
            index = self._doc_numbers[entity]
            if (
                old is not None
                and old.get("DocNumber")
                and index.get(old["DocNumber"]) == old["Id"]
            ):
                del index[old["DocNumber"]]
            if obj.get("DocNumber"):
                index[obj["DocNumber"]] = obj["Id"]
        self._tables[entity][obj["Id"]] = obj
        self._versions[entity] += 1

    def _remove(self, entity: str, entity_id: str) -> JSON:
        old = self._tables[entity].pop(entity_id)
        index = self._doc_numbers.get(entity)
        if index is not None and old.get("DocNumber") and index.get(old["DocNumber"]) == entity_id:
            del index[old["DocNumber"]]
        tomb = {
            "Id": entity_id,
            "status": "Deleted",
            "domain": "QBO",
            "MetaData": {"LastUpdatedTime": self._qbo_now()},
        }
        self._tombstones[entity][entity_id] = tomb
        self._versions[entity] += 1
        return tomb

    def _ref(self, table: str, ref: Any, element: str, kind: str) -> JSON:
        """Resolve a reference to an active object, or raise QBO's 610 Fault."""
        value = ref.get("value") if isinstance(ref, dict) else None
        obj = self._tables[table].get(str(value)) if value is not None else None
        if obj is None:
            raise invalid_ref(kind, value, element)
        if obj.get("Active") is False:
            raise inactive_ref(element)
        return obj

    def _bump(self, current: JSON) -> str:
        """The SyncToken after one more change of ``current``."""
        return str(int(current.get("SyncToken", "0")) + 1)
