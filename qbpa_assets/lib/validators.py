"""Validators of setting values: each takes the text and returns the parsed value.

A validator raises ``ValueError`` with a short reason (never echoing more than the value it was
given); :mod:`qbpa_assets.config` wraps that into an error naming the variable and the values
it allows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_SIZE = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)$", re.IGNORECASE)


def integer(low: int, high: int) -> Callable[[str], int]:
    """A validator of integers from ``low`` to ``high``."""

    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}..{high}")
        return value

    return parse


def one_of(*choices: str) -> Callable[[str], str]:
    """A validator accepting exactly one of ``choices`` (case matters)."""

    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
        return text

    return parse


def url(*schemes: str) -> Callable[[str], str]:
    """A validator of URLs with one of ``schemes`` and a host (``file`` needs none)."""

    def parse(text: str) -> str:
        parts = urlsplit(text)
        if parts.scheme.lower() not in schemes:
            raise ValueError(f"the scheme must be one of {', '.join(s + '://' for s in schemes)}")
        if parts.scheme.lower() != "file" and not parts.hostname:
            raise ValueError("the URL names no host")
        return text

    return parse


def time_zone(text: str) -> str:
    """An IANA time zone name known to this machine's tz database."""
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{text!r} is not a known time zone") from exc
    return text


def iso_date(text: str) -> str:
    """A date ``YYYY-MM-DD`` (returned in that form)."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"{text!r} is not a date") from None


def qbo_environment(text: str) -> str:
    """``production``, ``sandbox`` or an https:// OpenID discovery-document URL."""
    if text.lower() in {"production", "prod", "sandbox", "sand"} or text.startswith("https://"):
        return text
    raise ValueError(f"{text!r} is neither production, sandbox nor an https:// URL")


def memory_size(text: str) -> str:
    """A DuckDB memory size such as ``512MB`` or ``2GB``."""
    if not _SIZE.match(text):
        raise ValueError(f"{text!r} is not a size such as 512MB or 2GB")
    return text
