"""Test controls: methods on :class:`Emulator` and the same over HTTP, ``POST /_emulator/<name>``.

Over HTTP the JSON body holds the arguments; the answer is the result or ``{"ok": true}``, and
400 ``{"error": …}`` for a bad call. ``ADMIN_ACTIONS`` is the table of names.

Faults and limits (see ``limits.py``): ``inject_fault(status=429, count=1, path_contains=None,
xml=False, kind=None, retry_after=None)``, ``throttle_for(seconds, retry_after=True)``,
``clear_faults()`` (also ends a throttle window and the latency), ``set_latency(seconds)``,
``set_limits(enforce=True)``.

OAuth (see ``oauth.py``): ``expire_access_tokens()``, ``deny_consent(deny=True)``,
``issue_refresh_token()``, ``set_refresh_token_lifetime(seconds)``.

Estimates (see ``estimates.py``): ``convert_estimate(estimate_id, status="Closed",
doc_number=None)``, ``set_estimate_status(estimate_id, status, accepted_by=None)``.

Clock: ``set_clock(now)`` (ISO text over HTTP; null for real time).

Data, as a QBO user would change it: ``entities(name)``, ``tombstones(name)``,
``set_preference(name, value)``, ``update_entity(name, id, changes)``, ``add_entity(name,
object)``, ``delete_entity(name, id)``; the request log: ``request_log`` / ``reset_request_log()``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from typing import Any

from qbpa_assets.sandbox.faults import Fault
from qbpa_assets.sandbox.limits import FaultRule, ThrottleWindow
from qbpa_assets.sandbox.wire import JSON, Response, json_response

ADMIN_PREFIX = "/_emulator/"

logger = logging.getLogger(__name__)


def _call(method: str, *names: str, **defaults: Any) -> Any:
    """An admin action calling ``method`` with the named JSON arguments (and defaults)."""

    def action(emu: Any, args: JSON) -> Any:
        kwargs = {
            n: args[n] if n in args else defaults[n] for n in names if n in args or n in defaults
        }
        missing = [n for n in names if n not in kwargs]
        if missing:
            raise KeyError(f"missing argument {missing[0]!r}")
        return getattr(emu, method)(**kwargs)

    return action


ADMIN_ACTIONS: dict[str, Any] = {
    "expire_access_tokens": _call("expire_access_tokens"),
    "inject_fault": lambda emu, args: emu.inject_fault(**args),
    "throttle_for": _call("throttle_for", "seconds", "retry_after", retry_after=True),
    "clear_faults": _call("clear_faults"),
    "set_latency": _call("set_latency", "seconds", seconds=0.0),
    "set_limits": lambda emu, args: emu.set_limits(bool(args.get("enforce", True))),
    "request_log": lambda emu, args: {"requests": emu.request_log},
    "reset_request_log": _call("reset_request_log"),
    "entities": lambda emu, args: {"entities": emu.entities(args["name"])},
    "tombstones": lambda emu, args: {"tombstones": emu.tombstones(args["name"])},
    "set_preference": _call("set_preference", "name", "value"),
    "update_entity": lambda emu, args: emu.update_entity(
        args["name"], args["id"], args.get("changes", {})
    ),
    "add_entity": lambda emu, args: emu.add_entity(args["name"], args["object"]),
    "delete_entity": lambda emu, args: emu.delete_entity(args["name"], args["id"]),
    "set_clock": lambda emu, args: emu.set_clock(
        dt.datetime.fromisoformat(args["now"]) if args.get("now") else None
    ),
    "deny_consent": lambda emu, args: emu.deny_consent(bool(args.get("deny", True))),
    "issue_refresh_token": lambda emu, args: {"refresh_token": emu.issue_refresh_token()},
    "set_refresh_token_lifetime": _call("set_refresh_token_lifetime", "seconds"),
    "env": lambda emu, args: emu.env(),
    "convert_estimate": _call(
        "convert_estimate", "estimate_id", "status", "doc_number", status="Closed", doc_number=None
    ),
    "set_estimate_status": _call(
        "set_estimate_status", "estimate_id", "status", "accepted_by", accepted_by=None
    ),
}


class Controls:
    """The test controls (each also reachable over HTTP through ``ADMIN_ACTIONS``)."""

    def _init_controls(self) -> None:
        self._latency = 0.0
        self._log: list[JSON] = []

    def admin(self, action: str, body: bytes) -> Response:
        """Run ``POST /_emulator/<action>``."""
        try:
            args = json.loads(body or b"{}")
            if not isinstance(args, dict):
                raise ValueError("arguments must be a JSON object")
            handler = ADMIN_ACTIONS.get(action.strip("/"))
            if handler is None:
                raise KeyError(f"unknown emulator action {action.strip('/')!r}")
            result = handler(self, args)
        except (KeyError, ValueError, TypeError) as exc:
            return json_response(400, {"error": str(exc)})
        except Fault as fault:  # a control refused as QBO would refuse the change
            return json_response(400, {"error": str(fault), "Fault": fault.body()})
        except Exception as exc:  # noqa: BLE001 - a server must answer, whatever broke
            logger.exception("emulator control %s failed", action)
            return json_response(500, {"error": f"{type(exc).__name__}: {exc}"})
        return json_response(200, result if result is not None else {"ok": True})

    # ------------------------------------------------------------------ faults and limits

    def inject_fault(
        self,
        status: int = 429,
        count: int = 1,
        path_contains: str | None = None,
        xml: bool = False,
        kind: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Fail the next ``count`` matching requests.

        Args:
            status: HTTP status: 429 (Fault 3001), 500 (Fault 10000), 503, 401 or any other.
            count: How many requests fail.
            path_contains: Only requests whose path contains this; default any ``/v3`` request.
            xml: Send the 429 Fault in QBO's XML form.
            kind: ``"drop"`` closes the connection without any response.
            retry_after: Seconds to send in a ``Retry-After`` header (429 only).
        """
        self._faults.add(
            FaultRule(int(status), int(count), path_contains, bool(xml), kind, retry_after)
        )

    def throttle_for(self, seconds: float, retry_after: bool = True) -> None:
        """Answer 429 / Fault 3001 to every ``/v3`` request for the next ``seconds``.

        Measured on the emulator's clock: with a frozen clock (:meth:`set_clock`), the window
        ends when the clock is moved past it, so a long throttle costs a test no real time.

        Args:
            seconds: Length of the window from now.
            retry_after: Send ``Retry-After`` with the whole seconds left (rounded up).
        """
        self._throttle.window = ThrottleWindow(self._ts() + float(seconds), bool(retry_after))

    def clear_faults(self) -> None:
        """Remove pending injected faults, a throttle window and the latency."""
        self._faults.clear()
        self._throttle.window = None
        self._latency = 0.0

    def set_latency(self, seconds: float) -> None:
        """Delay every API response by ``seconds``."""
        self._latency = float(seconds)

    def set_limits(self, enforce: bool = True) -> None:
        """Turn QBO's throttling on or off."""
        self._throttle.reset(enforce)

    @property
    def enforce_limits(self) -> bool:
        """Whether QBO's throttles apply."""
        return self._throttle.enforce

    # ------------------------------------------------------------------ request log

    @property
    def request_log(self) -> list[JSON]:
        """Logged requests (copies), oldest first."""
        with self._lock:
            return [dict(entry) for entry in self._log]

    def reset_request_log(self) -> None:
        """Forget logged requests."""
        with self._lock:
            self._log.clear()

    # ------------------------------------------------------------------ data

    def entities(self, name: str) -> list[JSON]:
        """Return copies of the stored objects of an entity, in Id order."""
        entity = self._entity(name)
        with self._lock:
            return copy.deepcopy(list(self._tables[entity].values()))

    def tombstones(self, name: str) -> list[JSON]:
        """Return the CDC tombstones of deleted objects of an entity."""
        entity = self._entity(name)
        with self._lock:
            return copy.deepcopy(list(self._tombstones[entity].values()))

    def set_preference(self, name: str, value: Any) -> None:
        """Set a company preference, e.g. ``set_preference("CustomTxnNumbers", False)``."""
        with self._lock:
            prefs = copy.deepcopy(self._tables["Preferences"]["1"])
            section = next(
                (s for s in prefs.values() if isinstance(s, dict) and name in s),
                prefs.setdefault("SalesFormsPrefs", {}),
            )
            section[name] = value
            self._store("Preferences", self._touch(prefs))

    def update_entity(self, name: str, entity_id: str, changes: JSON) -> JSON:
        """Apply a sparse change as if a QBO user edited the object; return the new object."""
        entity = self._entity(name)
        with self._lock:
            current = self._tables[entity].get(str(entity_id))
            if current is None:
                raise KeyError(f"{entity} {entity_id} not found")
            new = copy.deepcopy(current)
            new.update(copy.deepcopy(changes))
            new["SyncToken"] = self._bump(current)
            self._store(entity, self._touch(new))
            return copy.deepcopy(new)

    def add_entity(self, name: str, obj: JSON) -> JSON:
        """Store a new object as is (Id, SyncToken and MetaData filled in); return it."""
        entity = self._entity(name)
        with self._lock:
            new = copy.deepcopy(obj)
            new.setdefault("Id", self._new_id(entity))
            new.setdefault("SyncToken", "0")
            new.setdefault("domain", "QBO")
            new.setdefault("sparse", False)
            new.setdefault("MetaData", {"CreateTime": self._qbo_now()})
            self._store(entity, self._touch(new))
            return copy.deepcopy(new)

    def delete_entity(self, name: str, entity_id: str) -> None:
        """Delete an object, leaving a CDC tombstone."""
        entity = self._entity(name)
        with self._lock:
            if str(entity_id) not in self._tables[entity]:
                raise KeyError(f"{entity} {entity_id} not found")
            self._remove(entity, str(entity_id))
