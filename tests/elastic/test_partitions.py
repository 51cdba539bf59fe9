"""Time-partitioned index names: UTC boundaries, the span a partition covers, routing by the event's id."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cryptoflow.candles import Candle
from cryptoflow.config import load_settings
from cryptoflow.elastic import IndexRouter, partition_index, partition_span, partition_suffix
from cryptoflow.events import (
    CandleEvent,
    IndicatorEvent,
    SignalEvent,
    SignalPayload,
    TradeEvent,
    TradePayload,
)
from cryptoflow.testing.events import ms


@pytest.mark.parametrize(
    ("moment", "daily", "monthly"),
    [
        ("1970-01-01T00:00:00.000", "1970.01.01", "1970.01"),
        ("2026-12-03T23:59:59.999", "2026.12.03", "2026.12"),  # last ms of a day
        ("2026-12-04T00:00:00.000", "2026.12.04", "2026.12"),  # first ms of the next
        ("2026-12-31T23:59:59.999", "2026.12.31", "2026.12"),  # last ms of a month and a year
        ("2027-01-01T00:00:00.000", "2027.01.01", "2027.01"),
        ("2028-02-29T23:59:59.999", "2028.02.29", "2028.02"),  # leap day
        ("2028-03-01T00:00:00.000", "2028.03.01", "2028.03"),
    ],
)
def test_the_partition_of_a_time_is_its_utc_day_or_month(moment: str, daily: str, monthly: str) -> None:
    assert partition_suffix(ms(moment), "daily") == daily
    assert partition_suffix(ms(moment), "monthly") == monthly
    assert partition_index("cf", "indicators", ms(moment), "daily") == f"cf-indicators-{daily}"
    assert partition_index("cf", "trades", ms(moment), "monthly") == f"cf-trades-{monthly}"


def test_the_local_time_zone_plays_no_part(monkeypatch: pytest.MonkeyPatch) -> None:
    last_ms_of_2026 = ms("2026-12-31T23:59:59.999")
    for zone in ("Pacific/Kiritimati", "America/Los_Angeles"):  # UTC+14, UTC-8
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        assert partition_suffix(last_ms_of_2026, "daily") == "2026.12.31"
        assert partition_suffix(last_ms_of_2026 + 1, "monthly") == "2027.01"
        assert partition_span("2027.01") == (last_ms_of_2026 + 1, ms("2027-02-01T00:00:00.000"))
    monkeypatch.delenv("TZ")
    time.tzset()


def test_bad_times_and_granularities_are_refused() -> None:
    with pytest.raises(ValueError, match="time_ms must be >= 0"):
        partition_suffix(-1, "daily")
    with pytest.raises(ValueError, match="unknown partition granularity 'weekly'"):
        partition_suffix(0, "weekly")


def test_a_partition_covers_its_utc_day_or_month() -> None:
    assert partition_span("2026.12.31") == (ms("2026-12-31T00:00:00.000"), ms("2027-01-01T00:00:00.000"))
    assert partition_span("2026.12") == (ms("2026-12-01T00:00:00.000"), ms("2027-01-01T00:00:00.000"))
    assert partition_span("2028.02") == (ms("2028-02-01T00:00:00.000"), ms("2028-03-01T00:00:00.000"))
    for name in ("000001", "2026.13", "2026.02.30", "2026.1", "2026.12.3", "2026-12", "backup", ""):
        assert partition_span(name) is None, name


LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999, the latest time an event may carry


@given(st.integers(min_value=0, max_value=LAST_MS), st.sampled_from(["daily", "monthly"]))
def test_every_time_lies_in_the_span_of_its_partition_and_nowhere_else(
    time_ms: int, granularity: str
) -> None:
    suffix = partition_suffix(time_ms, granularity)
    span = partition_span(suffix)
    assert span is not None
    start, end = span
    assert start <= time_ms < end
    assert partition_suffix(start, granularity) == partition_suffix(end - 1, granularity) == suffix
    assert start == 0 or partition_suffix(start - 1, granularity) != suffix
    assert end > LAST_MS or partition_suffix(end, granularity) != suffix


def _events() -> dict[str, object]:
    jan31_2359 = ms("2026-01-31T23:59:00.000")
    feb1 = ms("2026-02-01T00:00:00.000")
    common = {"source": "paper", "run_id": "r", "symbol": "ETHUSDT", "interval": "1m"}
    entry = {"side": "long", "quantity": 1.0, "entry_time_ms": jan31_2359, "entry_price": 100.0}
    open_leg = TradePayload.open_leg(fees=0.1, **entry)
    close_leg = TradePayload.close_leg(
        exit_time_ms=feb1 + 5 * 60_000, exit_price=101.0, exit_reason="signal", fees=0.2, pnl=0.8, **entry
    )
    candle = Candle("ETHUSDT", "1m", jan31_2359, feb1 - 1, 1.0, 1.0, 1.0, 1.0, 1.0)
    return {
        "candle": CandleEvent.of_candle(candle, {}, source="paper", run_id="r"),
        # the update arrived after midnight: its own time is what counts
        "indicator": IndicatorEvent.of_update(candle, {}, feb1, source="paper", run_id="r"),
        "signal": SignalEvent.create(
            **common,
            strategy="s",
            time_ms=feb1,  # decided at the candle's close, after midnight
            signal=SignalPayload(action="entry_long", price=1.0, candle_open_time_ms=jan31_2359),
        ),
        "open": TradeEvent.create(**common, strategy="s", trade=open_leg),
        "close": TradeEvent.create(**common, strategy="s", trade=close_leg),
    }


def test_the_router_uses_a_time_the_event_id_is_made_of() -> None:
    router = IndexRouter(load_settings(elasticsearch={"index_prefix": "cf"}))
    events = _events()
    assert {name: router.index_of(event) for name, event in events.items()} == {
        "candle": "cf-candles-2026.01",  # open time
        "indicator": "cf-indicators-2026.02.01",  # update time
        "signal": "cf-signals-2026.01",  # its candle's open time, not the decision time
        "open": "cf-trades-2026.01",  # entry time
        "close": "cf-trades-2026.01",  # entry time too: both legs of a position in one partition
    }
    # a close leg published again with another exit time keeps its id, so it must keep its index
    close = events["close"]
    later = close.trade.model_copy(update={"exit_time_ms": close.trade.exit_time_ms + 40 * 86_400_000})
    again = TradeEvent.create(
        source="paper", run_id="r", symbol="ETHUSDT", interval="1m", strategy="s", trade=later
    )
    assert again.event_id == close.event_id and again.time_ms != close.time_ms
    assert router.index_of(again) == router.index_of(close)


def test_partitioning_per_kind_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOFLOW_RETENTION__CANDLES_PARTITION", "daily")
    monkeypatch.setenv("CRYPTOFLOW_RETENTION__INDICATORS_PARTITION", "monthly")
    router = IndexRouter(load_settings(elasticsearch={"index_prefix": "cf"}))
    events = _events()
    assert router.index_of(events["candle"]) == "cf-candles-2026.01.31"
    assert router.index_of(events["indicator"]) == "cf-indicators-2026.02"
