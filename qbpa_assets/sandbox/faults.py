"""QuickBooks Online's Faults: one catalogue of code → message, one way to build each answer.

A Fault body is ``{"Fault": {"Error": [{"Message", "Detail", "code", "element"?}], "type"},
"time"}``. Every Fault the emulator sends is built from a :class:`FaultKind` of the catalogue
below (``CATALOGUE``); a call site adds only the detail and the element. The shapes that are not
plain Faults (429 as XML, the 401 of the authentication layer, the 503 HTML page of Intuit's
gateway) are built here too.
"""

from __future__ import annotations

from dataclasses import dataclass

from qbpa_assets.sandbox.wire import JSON, Headers, Response, json_response


@dataclass(frozen=True)
class FaultKind:
    """One entry of the catalogue: QBO's code, its message, the HTTP status and Fault type."""

    code: str
    message: str
    status: int = 400
    type: str = "ValidationFault"


UNSUPPORTED_OPERATION = FaultKind("500", "Unsupported Operation")
INVALID_REFERENCE = FaultKind("610", "Invalid Reference Id")
OBJECT_NOT_FOUND = FaultKind("610", "Object Not Found")
INVALID_PROPERTY = FaultKind("2010", "Request has invalid or unsupported property")
REQUIRED_PARAM = FaultKind(
    "2020", "Required param missing, need to supply the required value for the API"
)
STRING_LENGTH = FaultKind(
    "2050", "String length is either shorter or longer than supported by specification"
)
BATCH_TOO_LARGE = FaultKind("2050", "Batch request exceeds the maximum number of items")
THROTTLED = FaultKind(
    "3001",
    "message=ThrottleExceeded; errorCode=003001; statusCode=429",
    429,
    "ThrottleExceeded",
)
APPLICATION_AUTHORIZATION_FAILED = FaultKind(
    "3100",
    "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
    403,
    "AUTHENTICATION",
)
AUTHENTICATION_FAILED = FaultKind(
    "3200",
    "message=AuthenticationFailed; errorCode=003200; statusCode=401",
    401,
    "AUTHENTICATION",
)
QUERY_PARSE_ERROR = FaultKind("4000", "Error parsing query")
QUERY_INVALID = FaultKind("4001", "Invalid query")
STALE_OBJECT = FaultKind("5010", "Stale Object Error")
NO_NAME = FaultKind("6080", "No Name Provided")
DISCOUNT_INCOMPLETE = FaultKind("6090", "Discount Line missing required info.")
DUPLICATE_DOC_NUMBER = FaultKind("6140", "Duplicate Document Number Error")
DUPLICATE_NAME = FaultKind("6240", "Duplicate Name Exists Error")
SYSTEM_FAILURE = FaultKind(
    "10000", "An application error has occurred while processing your request", 500, "SystemFault"
)

CATALOGUE: tuple[FaultKind, ...] = (
    UNSUPPORTED_OPERATION,
    INVALID_REFERENCE,
    OBJECT_NOT_FOUND,
    INVALID_PROPERTY,
    REQUIRED_PARAM,
    STRING_LENGTH,
    BATCH_TOO_LARGE,
    THROTTLED,
    APPLICATION_AUTHORIZATION_FAILED,
    AUTHENTICATION_FAILED,
    QUERY_PARSE_ERROR,
    QUERY_INVALID,
    STALE_OBJECT,
    NO_NAME,
    DISCOUNT_INCOMPLETE,
    DUPLICATE_DOC_NUMBER,
    DUPLICATE_NAME,
    SYSTEM_FAILURE,
)

INACTIVE_DETAIL = (
    "Object Not Found : Something you're trying to use has been made inactive. "
    "Check the fields with accounts, customers, items, vendors or employees."
)
STALE_DETAIL = (
    "Stale Object Error : You and root were working on this at the same time. root "
    "finished before you did, so your work was not saved."
)


class Fault(Exception):
    """A QBO Fault to send back (HTTP ``status``, Fault ``type`` and one Error)."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str,
        *,
        element: str = "",
        status: int = 400,
        fault_type: str = "ValidationFault",
    ) -> None:
        super().__init__(f"{code} {message}")
        self.code, self.message, self.detail, self.element = code, message, detail, element
        self.status, self.fault_type = status, fault_type

    @classmethod
    def of(cls, kind: FaultKind, detail: str = "", element: str = "") -> Fault:
        """Build the Fault of a catalogue entry with its detail and element."""
        return cls(
            kind.code,
            kind.message,
            detail,
            element=element,
            status=kind.status,
            fault_type=kind.type,
        )

    def body(self) -> JSON:
        """Return the ``Fault`` object of a response body."""
        error = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element:
            error["element"] = self.element
        return {"Error": [error], "type": self.fault_type}

    def response(self, time_field: str, headers: Headers = ()) -> Response:
        """Return the whole answer: the Fault body and QBO's ``time`` at the HTTP status."""
        return json_response(
            self.status, {"Fault": self.body(), "time": time_field}, headers=headers
        )


# ---------------------------------------------------------------- the Faults said most often


def required(name: str) -> Fault:
    """2020: a required field is missing."""
    return Fault.of(
        REQUIRED_PARAM, f"Required parameter {name} is missing in the request", element=name
    )


def invalid_property(detail: str, element: str = "") -> Fault:
    """2010: a field or value QBO does not accept."""
    return Fault.of(INVALID_PROPERTY, detail, element)


def string_length(element: str, low: int, high: int, length: int, *, long_form: bool) -> Fault:
    """2050: a string outside ``[low, high]`` characters."""
    detail = f"Min:{low} Max:{high} supplied length:{length}"
    if long_form:
        detail = "String length specified does not match the supported length. " + detail
    return Fault.of(STRING_LENGTH, detail, element)


def invalid_ref(kind: str, value: object, element: str) -> Fault:
    """610: a reference to an object that does not exist."""
    return Fault.of(
        INVALID_REFERENCE,
        f"Invalid Reference Id : {kind} assigned to this transaction has been deleted or "
        f"does not exist. Id={value}",
        element,
    )


def inactive_ref(element: str) -> Fault:
    """610: a reference to an inactive object."""
    return Fault.of(OBJECT_NOT_FOUND, INACTIVE_DETAIL, element)


def not_found(entity: str, entity_id: str) -> Fault:
    """610: a read of an Id that does not exist (or was deleted)."""
    return Fault.of(
        OBJECT_NOT_FOUND,
        "Object Not Found : Something you're trying to use has been made inactive or has been "
        f"deleted. {entity} Id={entity_id}",
    )


def stale() -> Fault:
    """5010: the SyncToken sent is not the object's current one."""
    return Fault.of(STALE_OBJECT, STALE_DETAIL)


def unsupported(detail: str) -> Fault:
    """500: an operation this entity does not support."""
    return Fault.of(UNSUPPORTED_OPERATION, detail)


def system_failure(detail: str, status: int = 500) -> Fault:
    """10000: QBO's generic server error."""
    fault = Fault.of(SYSTEM_FAILURE, f"System Failure Error: {detail}")
    fault.status = status
    return fault


# ---------------------------------------------------------------- answers that are not Faults


def throttled(time_field: str, *, xml: bool = False, retry_after: float | None = None) -> Response:
    """429 with Fault 3001 (JSON, or QBO's XML form); ``Retry-After`` when given."""
    headers: Headers = (("Retry-After", f"{retry_after:g}"),) if retry_after is not None else ()
    detail = "The request limit was reached."
    if xml:
        text = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{time_field}">'
            f'<Fault type="{THROTTLED.type}"><Error code="{THROTTLED.code}">'
            f"<Message>{THROTTLED.message}</Message>"
            f"<Detail>{detail}</Detail></Error></Fault></IntuitResponse>"
        )
        return Response(429, text.encode(), "application/xml", headers)
    return Fault.of(THROTTLED, detail).response(time_field, headers)


def unauthorized(detail: str, time_ms: int) -> Response:
    """401 in the shape of Intuit's authentication layer (lower-case keys, no ``Fault``)."""
    body = {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": AUTHENTICATION_FAILED.message,
                    "detail": detail,
                    "code": AUTHENTICATION_FAILED.code,
                    "element": None,
                }
            ],
            "type": AUTHENTICATION_FAILED.type,
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": time_ms,
        "status": None,
        "cdcresponse": [],
    }
    return json_response(401, body, (("WWW-Authenticate", 'Bearer realm="Intuit"'),))


def service_unavailable() -> Response:
    """503 as Intuit's gateway sends it: an HTML page."""
    return Response(503, b"<html><body><h1>503 Service Unavailable</h1></body></html>", "text/html")
