"""Which windows the next ``invoice.fil`` must cover, so that no night is ever missed.

PocketAdvantage reads ``invoice.fil`` from ``latest<account_id>/``, and each upload replaces the
previous file. Two rules follow:

* **Catch up after failed nights.** When the last delivered window ends before the partition
  starts (the exports of some nights failed), the run extracts, stages and delivers from that
  end: the gap plus the partition.
* **Never over-write what may not have been read.** A file delivered since the last nightly
  pick-up boundary (the nightly schedule's time) may still be waiting on the FTP; its windows are
  delivered again in the new file. So three per-day runs of ``dagster job backfill`` end with
  a file holding all three days (plus anything else delivered since the boundary).

Windows are ``[start, end)`` instants; overlapping or touching windows are merged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Merge overlapping and touching ``[start, end)`` intervals, in order."""
    out: list[Interval] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


@dataclass(frozen=True)
class Coverage:
    """What one run of the invoice flow extracts and delivers.

    Attributes:
        partition: The run's own window (a day, or a backfilled range).
        extract: The window the raw and staged invoices are refreshed for: the partition, or
            from the end of the last delivery when nights were missed.
        intervals: The windows the file covers: ``extract`` plus the windows of files delivered
            since the pick-up boundary, merged.
    """

    partition: Interval
    extract: Interval
    intervals: tuple[Interval, ...]

    @property
    def caught_up_from(self) -> datetime | None:
        """Where a catch-up starts (the end of the last delivery), or None without a gap."""
        return self.extract[0] if self.extract[0] < self.partition[0] else None

    @property
    def window(self) -> Interval:
        """The hull of the file's windows."""
        return self.intervals[0][0], self.intervals[-1][1]

    def where(self, condition: str) -> tuple[str, list[datetime]]:
        """The filter of the file's rows and its parameters.

        Args:
            condition: A one-window condition with two ``?`` (start, end), e.g.
                ``Layout.window_where()``.

        Returns:
            ``(sql, params)``: the condition OR-ed once per interval.
        """
        sql = "(" + " OR ".join(f"({condition})" for _ in self.intervals) + ")"
        params = [bound for interval in self.intervals for bound in interval]
        return sql, params


def plan(
    partition: Interval,
    delivered_until: datetime | None,
    pending: Sequence[Interval] = (),
) -> Coverage:
    """Decide what a run extracts and delivers.

    Args:
        partition: The run's window ``[start, end)``.
        delivered_until: The end of the newest window ever delivered (None: nothing yet, so no
            catch-up on a first run).
        pending: Windows of files delivered since the pick-up boundary.

    Returns:
        The coverage.
    """
    start, end = partition
    extract_start = start
    if delivered_until is not None and delivered_until < start:
        extract_start = delivered_until
    extract = (extract_start, end)
    return Coverage(partition, extract, tuple(merge([extract, *pending])))


def pickup_boundary(now: datetime, timezone: str, at: time) -> datetime:
    """The latest nightly pick-up boundary at or before ``now``: ``at`` o'clock in ``timezone``.

    Files delivered before it are taken as read by PocketAdvantage; later ones may still be
    waiting on the FTP.
    """
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    today = datetime.combine(local.date(), at, zone)
    return today if today <= local else datetime.combine(local.date() - timedelta(days=1), at, zone)
