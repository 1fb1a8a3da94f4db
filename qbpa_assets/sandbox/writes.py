"""Writes: ``POST {entity}`` and ``POST preferences``, with ``requestid`` idempotency.

``POST {entity}`` creates, updates (full or sparse), or with ``?operation=delete|void`` deletes
or voids.

* An object with an ``Id`` is an update: its ``SyncToken`` must be the current one (else Fault
  5010). ``"sparse": true`` changes only the fields sent (a ``Line`` sent replaces all lines);
  otherwise the object sent replaces the stored one.
* ``?requestid=…`` (≤ 50 characters; ≤ 36 on batch) makes a repeated request return the first
  successful answer unchanged; failures are not remembered, so a retry runs again.
* Customers and Items check QBO's names (6080, 6240, 2050); transactions are checked in
  ``transactions.py``. Deleted transactions leave a CDC tombstone; a voided one keeps its Id
  with zero amounts.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from qbpa_assets.lib.quickbooks.limits import REQUEST_ID_MAX
from qbpa_assets.sandbox.company import SALES_ACCOUNT, USD
from qbpa_assets.sandbox.faults import (
    DUPLICATE_NAME,
    INACTIVE_DETAIL,
    NO_NAME,
    OBJECT_NOT_FOUND,
    Fault,
    invalid_property,
    required,
    stale,
    string_length,
    unsupported,
)
from qbpa_assets.sandbox.store import TXN_ENTITIES
from qbpa_assets.sandbox.wire import JSON, Response

WRITABLE = frozenset({"Invoice", "Estimate", "SalesReceipt", "Customer", "Item"})
ITEM_TYPES = ("Inventory", "NonInventory", "Service", "Category", "Group")


class WriteApi:
    """Write endpoints over the store."""

    def _init_writes(self) -> None:
        self._requestids: dict[str, Response] = {}

    # ------------------------------------------------------------------ endpoints

    def api_write(self, request: Any) -> Response:
        """``POST {entity}``: create, update, delete or void one object."""
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise invalid_property(f"Bad JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise invalid_property("")
        operation = request.params.get("operation")
        include = request.params.get("include", "")
        return self._with_requestid(
            request.params,
            REQUEST_ID_MAX,
            lambda: self._ok(*self._write(request.entity, operation, payload, include)),
        )

    def api_update_preferences(self, request: Any) -> Response:
        """``POST preferences``: a sparse update of the company's Preferences."""
        return self._with_requestid(
            request.params, REQUEST_ID_MAX, lambda: self._update_preferences(request.body)
        )

    # ------------------------------------------------------------------ requestid

    def _with_requestid(
        self, params: dict, max_len: int, action: Callable[[], Response]
    ) -> Response:
        requestid = params.get("requestid")
        if requestid is None:
            return action()
        if len(requestid) > max_len:
            raise string_length("requestid", 1, max_len, len(requestid), long_form=True)
        with self._lock:
            cached = self._requestids.get(requestid)
            if cached is not None:
                return cached
            response = action()
            # Only successes are remembered, so a retry after a failure really runs again.
            if response.status == 200:
                self._requestids[requestid] = response
            return response

    # ------------------------------------------------------------------ writes

    def _update_preferences(self, body: bytes) -> Response:
        try:
            payload = json.loads(body or b"{}")
        except ValueError as exc:
            raise invalid_property(str(exc)) from exc
        with self._lock:
            current = self._tables["Preferences"]["1"]
            if str(payload.get("SyncToken")) != current["SyncToken"]:
                raise stale()
            new = copy.deepcopy(current)
            for key, value in payload.items():
                if isinstance(value, dict) and isinstance(new.get(key), dict):
                    new[key].update(value)
                elif key not in ("Id", "SyncToken", "MetaData", "sparse", "domain"):
                    new[key] = value
            new["SyncToken"] = self._bump(current)
            self._store("Preferences", self._touch(new))
            return self._ok("Preferences", new)

    def _current(self, entity: str, payload: JSON) -> JSON:
        """The stored object an update or delete names, with its SyncToken checked."""
        for key in ("Id", "SyncToken"):
            if key not in payload:
                raise required(key)
        current = self._tables[entity].get(str(payload["Id"]))
        if current is None:
            raise Fault.of(OBJECT_NOT_FOUND, INACTIVE_DETAIL, "Id")
        if str(payload["SyncToken"]) != current.get("SyncToken"):
            raise stale()
        return current

    def _write(
        self,
        entity: str,
        operation: str | None,
        payload: JSON,
        include: str,
        link_status: str = "Closed",
    ) -> tuple[str, JSON]:
        """Create, update, delete or void an object; return (entity, response object).

        An Invoice that newly names an Estimate in ``LinkedTxn`` links it back and gives it
        ``link_status`` (``estimates.py``).
        """
        if entity not in WRITABLE:
            raise unsupported(
                f"Operation Create/Update is not supported for {entity} in this emulator"
            )
        payload = copy.deepcopy(payload)
        with self._lock:
            if operation in ("delete", "void"):
                return self._delete_or_void(entity, operation, payload)
            if operation not in (None, "", "create", "update"):
                raise invalid_property(f"Unsupported operation {operation}")
            current = None
            if "Id" in payload or operation == "update":
                current = self._current(entity, payload)
                if payload.get("sparse") in (True, "true"):
                    merged = copy.deepcopy(current)
                    merged.update(payload)
                    payload = merged
            if entity in TXN_ENTITIES:
                obj = self._prepare_txn(entity, payload, current, include)
            elif entity == "Customer":
                obj = self._prepare_customer(payload, current)
            else:
                obj = self._prepare_item(payload, current)
            obj["domain"] = "QBO"
            obj["sparse"] = False
            if current is None:
                obj["Id"] = self._new_id(entity)
                obj["SyncToken"] = "0"
                obj["MetaData"] = {}
            else:
                obj["Id"] = current["Id"]
                obj["SyncToken"] = self._bump(current)
                obj["MetaData"] = dict(current.get("MetaData") or {})
            self._store(entity, self._touch(obj))
            if entity == "Invoice":
                self._link_estimates(obj, link_status, current)
            return entity, obj

    def _delete_or_void(self, entity: str, operation: str, payload: JSON) -> tuple[str, JSON]:
        if entity not in TXN_ENTITIES or (operation == "void" and entity == "Estimate"):
            raise unsupported(f"Operation {operation} is not supported for {entity}")
        current = self._current(entity, payload)
        if operation == "delete":
            self._remove(entity, current["Id"])
            if entity == "Invoice":
                self._unlink_invoice(current)
            return entity, {"status": "Deleted", "domain": "QBO", "Id": current["Id"]}
        obj = copy.deepcopy(current)

        def zero(lines: list[JSON]) -> None:
            for line in lines:
                if "Amount" in line:
                    line["Amount"] = 0.0
                detail = line.get("SalesItemLineDetail")
                if detail is not None:
                    detail["Qty"] = 0
                group = line.get("GroupLineDetail")
                if group is not None:
                    zero(group.get("Line", []))

        zero(obj.get("Line", []))
        obj.update(TotalAmt=0.0, PrivateNote="Voided")
        if "Balance" in obj:
            obj["Balance"] = 0.0
        obj["SyncToken"] = self._bump(current)
        self._store(entity, self._touch(obj))
        return entity, obj

    # ------------------------------------------------------------------ names

    def _duplicate_name(self, entity: str, field_name: str, name: str, own_id: str | None) -> None:
        folded = name.casefold()
        for obj in self._tables[entity].values():
            if obj.get(field_name, "").casefold() == folded and obj["Id"] != own_id:
                raise Fault.of(
                    DUPLICATE_NAME,
                    "The name supplied already exists. : Another customer, vendor or employee "
                    f"is already using this name. Please use a different name. Id={obj['Id']}",
                    field_name,
                )

    def _prepare_customer(self, obj: JSON, current: JSON | None) -> JSON:
        names = [obj.get(k) for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")]
        display = (
            obj.get("DisplayName") or " ".join(n for n in names if n) or obj.get("CompanyName")
        )
        if not display:
            raise Fault.of(
                NO_NAME,
                "Title, GivenName, MiddleName, FamilyName, DisplayName, Suffix - one of these "
                "must be non-empty",
            )
        if len(display) > 500:
            raise string_length("DisplayName", 1, 500, len(display), long_form=False)
        self._duplicate_name("Customer", "DisplayName", display, current and current["Id"])
        obj["DisplayName"] = display
        obj.setdefault("PrintOnCheckName", display)
        obj.setdefault("Active", True)
        obj.setdefault("Taxable", False)
        obj.setdefault("CurrencyRef", USD)
        obj.setdefault("Balance", 0.0)
        obj.setdefault("BalanceWithJobs", obj["Balance"])
        obj.setdefault("PreferredDeliveryMethod", "Print")
        if obj.get("ParentRef"):
            parent = self._ref("Customer", obj["ParentRef"], "ParentRef", "Customer")
            obj.update(Job=True, Level=1)
            obj["FullyQualifiedName"] = f"{parent['DisplayName']}:{display}"
        else:
            obj.setdefault("Job", False)
            obj["FullyQualifiedName"] = display
        return obj

    def _prepare_item(self, obj: JSON, current: JSON | None) -> JSON:
        name = obj.get("Name")
        if not name:
            raise required("Name")
        self._duplicate_name("Item", "Name", name, current and current["Id"])
        kind = obj.setdefault("Type", "NonInventory")
        if kind not in ITEM_TYPES:
            raise invalid_property(f"Unsupported Item Type {kind}", "Type")
        if kind in ("Inventory", "NonInventory", "Service") and not obj.get("IncomeAccountRef"):
            obj["IncomeAccountRef"] = SALES_ACCOUNT
        if kind == "Inventory":
            for key in ("AssetAccountRef", "ExpenseAccountRef", "InvStartDate", "QtyOnHand"):
                if obj.get(key) is None:
                    raise required(key)
            obj["TrackQtyOnHand"] = True
        obj.setdefault("Active", True)
        obj["FullyQualifiedName"] = name
        if obj.get("ParentRef"):
            parent = self._ref("Item", obj["ParentRef"], "ParentRef", "Item")
            obj.update(SubItem=True, Level=1, FullyQualifiedName=f"{parent['Name']}:{name}")
        return obj
