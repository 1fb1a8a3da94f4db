"""The wire format of every answer: a status, a body, its content type and extra headers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
Headers = tuple[tuple[str, str], ...]


@dataclass
class Response:
    """One HTTP answer, written by the server in a single send."""

    status: int
    body: bytes
    content_type: str = "application/json;charset=UTF-8"
    headers: Headers = ()


def dumps(obj: Any) -> bytes:
    """Serialize JSON the way QBO does: UTF-8, no spaces."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(status: int, obj: Any, headers: Headers = ()) -> Response:
    """Return a JSON answer."""
    return Response(status, dumps(obj), headers=headers)


NOT_FOUND_HTML = Response(404, b"<html><body>404 Not Found</body></html>", "text/html")
