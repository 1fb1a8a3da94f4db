"""What the next invoice.fil covers: catch-up after missed nights, re-delivery of pending files."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from qbpa_assets.lib.invoices.coverage import merge, pickup_boundary, plan

D = [datetime(2026, 3, d, tzinfo=UTC) for d in range(1, 9)]


def day(n: int) -> tuple[datetime, datetime]:
    return D[n], D[n + 1]


def test_merge_joins_overlapping_and_touching_windows():
    assert merge([day(3), day(1), day(2), (D[5], D[7]), day(6)]) == [(D[1], D[4]), (D[5], D[7])]


def test_first_run_ever_covers_only_its_partition():
    coverage = plan(day(3), delivered_until=None)
    assert coverage.extract == day(3) and coverage.intervals == (day(3),)
    assert coverage.caught_up_from is None


def test_two_missed_nights_are_caught_up_from_the_last_delivery():
    # Delivered up to day 1 (its window ends at D[2]); nights of days 2 and 3 failed.
    coverage = plan(day(4), delivered_until=D[2])
    assert coverage.caught_up_from == D[2]
    assert coverage.extract == (D[2], D[5]) and coverage.intervals == ((D[2], D[5]),)


def test_files_delivered_since_the_boundary_are_delivered_again():
    # A CLI backfill of days 2, 3, 4 after the nightly file of day 6: each run re-sends the
    # earlier ones, so the last file holds days 2-4 and day 6.
    pending = [day(6)]
    first = plan(day(2), delivered_until=D[7], pending=pending)
    assert first.intervals == (day(2), day(6))
    second = plan(day(3), delivered_until=D[7], pending=[*pending, *first.intervals])
    third = plan(day(4), delivered_until=D[7], pending=[*pending, *second.intervals])
    assert third.intervals == ((D[2], D[5]), day(6))
    assert third.extract == day(4) and third.caught_up_from is None


def test_where_ors_one_condition_per_window():
    coverage = plan(day(2), delivered_until=D[7], pending=[day(6)])
    sql, params = coverage.where("t >= ? AND t < ?")
    assert sql == "((t >= ? AND t < ?) OR (t >= ? AND t < ?))"
    assert params == [D[2], D[3], D[6], D[7]]


@pytest.mark.parametrize(
    ("now", "boundary"),
    [
        (datetime(2026, 3, 5, 2, 31, tzinfo=UTC), datetime(2026, 3, 5, 2, 30, tzinfo=UTC)),
        (datetime(2026, 3, 5, 2, 29, tzinfo=UTC), datetime(2026, 3, 4, 2, 30, tzinfo=UTC)),
    ],
)
def test_pickup_boundary_is_the_last_nightly_time(now, boundary):
    assert pickup_boundary(now, "UTC", time(2, 30)) == boundary


def test_pickup_boundary_in_the_partitions_time_zone():
    # 02:30 in New York is 07:30 UTC (EST, March 5th).
    got = pickup_boundary(datetime(2026, 3, 5, 8, tzinfo=UTC), "America/New_York", time(2, 30))
    assert got.astimezone(UTC) == datetime(2026, 3, 5, 7, 30, tzinfo=UTC)
    assert got - timedelta(days=1) == pickup_boundary(
        datetime(2026, 3, 5, 7, tzinfo=UTC), "America/New_York", time(2, 30)
    )
