"""Building blocks of the generator: fast random picks, QBO time stamps, addresses, metadata."""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any

from qbpa_assets.sandbox.company.vocabulary import CITIES, COMPANY_TZ, STREETS

_OFFSETS: dict[int, tuple[int, str]] = {}


def pick(rng: random.Random, seq: Any) -> Any:
    """Return a random element (faster than ``random.choice``)."""
    # random.choice/randint go through _randbelow, several times slower; generating 300k
    # objects makes that matter.
    return seq[int(rng.random() * len(seq))]


def between(rng: random.Random, low: int, high: int) -> int:
    """Return a random integer in ``[low, high]`` (faster than ``randint``)."""
    return low + int(rng.random() * (high - low + 1))


def qbo_time(ts: float) -> str:
    """Format a POSIX timestamp the way QBO does: company local time with offset."""
    seconds = int(ts)
    hour = seconds // 3600
    cached = _OFFSETS.get(hour)
    if cached is None:
        # Time zone transitions fall on whole UTC hours, so one lookup per hour is exact.
        offset = dt.datetime.fromtimestamp(hour * 3600, COMPANY_TZ).utcoffset()
        total = int(offset.total_seconds()) if offset is not None else 0
        sign = "-" if total < 0 else "+"
        cached = (total, f"{sign}{abs(total) // 3600:02d}:{abs(total) % 3600 // 60:02d}")
        _OFFSETS[hour] = cached
    local = time.gmtime(seconds + cached[0])
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + cached[1]


def local_date(ts: float) -> str:
    """Return the company-local date (``YYYY-MM-DD``) of a timestamp."""
    return dt.datetime.fromtimestamp(ts, COMPANY_TZ).date().isoformat()


def address(rng: random.Random, addr_id: int) -> dict[str, Any]:
    """Return a random US address with the given ``Id``."""
    city, state, zip3 = pick(rng, CITIES)
    addr: dict[str, Any] = {
        "Id": str(addr_id),
        "Line1": f"{between(rng, 1, 9999)} {pick(rng, STREETS)} St.",
        "City": city,
        "CountrySubDivisionCode": state,
        "PostalCode": f"{zip3}{between(rng, 0, 99):02d}",
    }
    if rng.random() < 0.15:
        addr["Line2"] = f"Suite {between(rng, 100, 999)}"
    if rng.random() < 0.05:
        addr["Line2"] = "Dock 4\tGate B"
    return addr


def metadata(create: float, update: float) -> dict[str, str]:
    """Return a ``MetaData`` object for a create and an update time."""
    return {"CreateTime": qbo_time(create), "LastUpdatedTime": qbo_time(max(create, update))}


def window(days: int, end_date: dt.date | None) -> tuple[float, float]:
    """Return the (start, end) POSIX times of the activity window, never in the future."""
    today = dt.datetime.now(dt.UTC).date()
    end_date = end_date or today
    start = dt.datetime.combine(
        end_date - dt.timedelta(days=days - 1), dt.time(), tzinfo=dt.UTC
    ).timestamp()
    end = dt.datetime.combine(end_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC).timestamp()
    # Never put LastUpdatedTime in the future: a sync of "changes up to now" must see all.
    now = dt.datetime.now(dt.UTC).timestamp() - 60
    return start, max(start + 1, min(end, now))
