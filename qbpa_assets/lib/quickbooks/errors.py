"""Errors raised by the QuickBooks Online client.

Every message is written for the person running the pipeline: it says what failed and what to
do next. None of them ever carries a token, the client secret or an Authorization header: the
texts are built from URLs (which hold no credentials: the bearer token travels in a header),
status codes and QuickBooks Fault fields only.
"""

from __future__ import annotations

from typing import Any


class QboError(Exception):
    """Base class of every QuickBooks client error.

    Attributes:
        code: QuickBooks error code (e.g. ``"610"``, ``"3001"``) or OAuth error
            (``"invalid_grant"``), when known.
        status: HTTP status code, when a response was received.
        detail: Longer explanation from QuickBooks, when given.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.detail = detail

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code!r}, status={self.status!r})"
        )


class QboConfigError(QboError):
    """A setting is missing or invalid; the message names the environment variable."""

    def __init__(self, message: str, *, variable: str | None = None) -> None:
        super().__init__(message, code="config")
        self.variable = variable


class QboAuthError(QboError):
    """QuickBooks refused our credentials (revoked/expired refresh token, wrong client)."""


class QboConnectionError(QboError):
    """The QuickBooks or OAuth endpoint could not be reached (DNS, TLS, refused, timeout)."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message, code="connection")
        self.url = url


class QboRetriesExhausted(QboError):
    """A retriable failure (throttling, 5xx, dropped connection) persisted past ``max_retries``.

    Attributes:
        attempts: How many times the request was sent.
        last_error: The error of the last attempt.
    """

    def __init__(self, message: str, *, attempts: int, last_error: QboError) -> None:
        super().__init__(
            message, code=last_error.code, status=last_error.status, detail=last_error.detail
        )
        self.attempts = attempts
        self.last_error = last_error


class QboFault(QboError):
    """QuickBooks answered with a ``Fault`` (validation, not found, stale object, throttle…).

    Attributes:
        fault_type: The Fault ``type`` (``ValidationFault``, ``ThrottleExceeded``…).
        element: The element QuickBooks blames, when given (e.g. ``CustomerRef``).
        errors: Every ``Error`` of the Fault as ``{"code", "message", "detail", "element"}``.
    """

    def __init__(
        self,
        message: str,
        *,
        element: str | None = None,
        fault_type: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        **common: Any,
    ) -> None:
        # ``common``: QboError's ``code``, ``status`` and ``detail``.
        super().__init__(message, **common)
        self.element = element
        self.fault_type = fault_type
        self.errors = errors or []

    @classmethod
    def from_errors(
        cls,
        errors: list[dict[str, Any]],
        *,
        fault_type: str | None = None,
        status: int | None = None,
        context: str = "",
    ) -> QboFault:
        """Build a fault from normalized error dicts (the first error gives code and message)."""
        first = errors[0] if errors else {"code": None, "message": "unknown fault"}
        code = str(first.get("code")) if first.get("code") not in (None, "") else None
        text = first.get("message") or "QuickBooks fault"
        detail = first.get("detail") or None
        element = first.get("element") or None
        where = f"{context}: " if context else ""
        message = f"{where}QuickBooks fault {code or '?'} ({fault_type or 'Fault'}): {text}"
        if detail:
            message += f" - {detail}"
        if element:
            message += f" [element {element}]"
        if len(errors) > 1:
            message += f" (+{len(errors) - 1} more error(s))"
        return cls(
            message,
            code=code,
            status=status,
            detail=detail,
            element=element,
            fault_type=fault_type,
            errors=list(errors),
        )
