"""Issue 9 case 8: QuickBooks throttling is outlasted, 5xx keeps its shorter budget.

The emulator answers real HTTP 429 / Fault 3001 responses; the client's clock and sleep are
injected, so a 90-second budget is checked in well under a second of wall time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qbpa_assets.lib.quickbooks.client import QboClient
from qbpa_assets.lib.quickbooks.errors import QboRetriesExhausted
from qbpa_assets.lib.quickbooks.limits import THROTTLE_MIN_BACKOFF_SECONDS
from qbpa_assets.lib.quickbooks.settings import QboSettings
from qbpa_assets_tests.fixtures.clock import FakeClock
from qbpa_assets_tests.fixtures.emulator import one_line_estimate
from qbpa_assets_tests.fixtures.stack import emulator_credentials

pytestmark = pytest.mark.e2e


def client_for(emu, tmp_path: Path, clock: FakeClock, **overrides) -> QboClient:
    values = {**emulator_credentials(emu), "max_retries": 6, "timeout": 10.0, **overrides}
    values.setdefault("token_store_path", tmp_path / "qbo_tokens.json")
    # Production backoff (0.5 s doubling to 60 s): only the clock is fake.
    return QboClient(QboSettings(**values), sleep=clock.sleep, clock=clock)


def answered(emu, path: str, status: int) -> int:
    return sum(1 for e in emu.request_log if path in e.get("path", "") and e["status"] == status)


@pytest.mark.parametrize("xml", [False, True], ids=["json", "xml"])
def test_throttling_is_outlasted_past_the_old_23_seconds(qbo_emulator, tmp_path, xml):
    emu, clock = qbo_emulator, FakeClock(start=1000.0)
    with client_for(emu, tmp_path, clock) as client:
        client.count("Item")  # token first
        emu.reset_request_log()
        # 8 throttled answers: the old client gave up after 7 attempts (~23 s of backoff).
        # With 0.5 s doubling, 8 waits sum to 31-64 s, below the budget whatever the jitter.
        emu.inject_fault(status=429, count=8, path_contains="/query", xml=xml)
        try:
            assert client.count("Item") > 0
        finally:
            emu.clear_faults()
        assert answered(emu, "/query", 429) == 8 and answered(emu, "/query", 200) == 1
        assert client.stats["throttled"] == 8 and client.stats["retries"] == 8
    assert sum(clock.sleeps) > 23


def test_throttling_gives_up_only_after_the_throttle_budget(qbo_emulator, tmp_path):
    emu, clock = qbo_emulator, FakeClock(start=1000.0)
    with client_for(emu, tmp_path, clock) as client:
        client.count("Item")
        emu.reset_request_log()
        emu.inject_fault(status=429, count=500, path_contains="/query")
        try:
            with pytest.raises(QboRetriesExhausted) as info:
                client.count("Item")
        finally:
            emu.clear_faults()
    waited = sum(clock.sleeps)
    assert waited >= THROTTLE_MIN_BACKOFF_SECONDS
    assert waited < THROTTLE_MIN_BACKOFF_SECONDS + 60  # no wait starts after the budget
    assert info.value.attempts == answered(emu, "/query", 429) == len(clock.sleeps) + 1
    assert info.value.code == "3001" and "gave up after" in str(info.value)


def test_server_errors_keep_the_shorter_budget(qbo_emulator, tmp_path):
    emu, clock = qbo_emulator, FakeClock(start=1000.0)
    with client_for(emu, tmp_path, clock, max_retries=3) as client:
        client.count("Item")
        emu.reset_request_log()
        emu.inject_fault(status=503, count=50, path_contains="/query")
        try:
            with pytest.raises(QboRetriesExhausted) as info:
                client.count("Item")
        finally:
            emu.clear_faults()
    assert info.value.attempts == 4 == answered(emu, "/query", 503)
    assert sum(clock.sleeps) < THROTTLE_MIN_BACKOFF_SECONDS / 4


def test_throttled_batch_write_is_retried_and_written_once(fresh_emulator, tmp_path):
    emu, clock = fresh_emulator(), FakeClock(start=1000.0)
    estimate = one_line_estimate(emu, "THR-1", qty=1, unit_price=10.0)
    with client_for(emu, tmp_path, clock) as client:
        client.count("Item")
        emu.reset_request_log()
        emu.inject_fault(status=429, count=8, path_contains="/batch")
        results = client.batch(
            [{"bId": "1", "operation": "create", "Estimate": estimate}], request_id="thr-batch-1"
        )
    assert results[0]["Estimate"]["DocNumber"] == "THR-1"
    assert answered(emu, "/batch", 429) == 8 and answered(emu, "/batch", 200) == 1
    assert len([e for e in emu.entities("Estimate") if e.get("DocNumber") == "THR-1"]) == 1
    assert sum(clock.sleeps) > 23


def test_retry_after_is_honoured(qbo_emulator, tmp_path):
    emu, clock = qbo_emulator, FakeClock(start=1000.0)
    with client_for(emu, tmp_path, clock) as client:
        client.count("Item")
        emu.reset_request_log()
        emu.inject_fault(status=429, count=3, path_contains="/query", retry_after=20)
        try:
            assert client.count("Item") > 0
        finally:
            emu.clear_faults()
    assert answered(emu, "/query", 429) == 3
    assert len(clock.sleeps) == 3 and min(clock.sleeps) >= 20  # not 0.5 s, 1 s, 2 s


def test_a_throttle_window_longer_than_the_budget_is_outlasted_with_retry_after(
    fresh_emulator, tmp_path
):
    """QuickBooks says how long it throttles: waiting that long beats any blind backoff."""
    emu, clock = fresh_emulator(), FakeClock(start=1000.0)
    frozen = datetime.now(UTC)
    emu.set_clock(frozen)

    def sleep(seconds: float) -> None:  # the emulator's clock moves with the client's
        clock.sleep(seconds)
        emu.set_clock(frozen + timedelta(seconds=clock.now - clock.start))

    settings = {**emulator_credentials(emu), "token_store_path": tmp_path / "t.json"}
    with QboClient(QboSettings(**settings), sleep=sleep, clock=clock) as client:
        client.count("Item")
        emu.reset_request_log()
        emu.throttle_for(100)
        assert client.count("Item") > 0
    assert answered(emu, "/query", 429) >= 1 and answered(emu, "/query", 200) == 1
    assert sum(clock.sleeps) >= 100 > THROTTLE_MIN_BACKOFF_SECONDS
