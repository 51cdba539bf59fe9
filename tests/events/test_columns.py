"""The history path's encoder: the bytes of :meth:`CandleEvent.encode_columns` are those of the live path
(:meth:`CandleEvent.of_candle` + :func:`encode`) for the same candle, and they decode to the same event."""

from __future__ import annotations

import math
import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cryptoflow.candles import Candle
from cryptoflow.events import INDICATOR_NAMES, CandleEvent, decode, encode, event_id

MAX_MS = 253_402_300_799_999
SYMBOL, INTERVAL = "ETHUSDT", "1m"

prices = st.floats(min_value=1e-12, max_value=1e18, allow_nan=False, allow_infinity=False).filter(
    lambda x: x > 0
)
amounts = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=1e20, allow_nan=False))
indicator_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, float("nan"), 1e16, 1e-7, 1e-5, 123456.789]),
)
candles = st.builds(
    lambda open_ms, span, prices, volumes, trades: Candle(
        SYMBOL, INTERVAL, open_ms, open_ms + span, *prices, volumes[0], volumes[1], trades, *volumes[2:], True
    ),
    st.integers(min_value=0, max_value=MAX_MS - 10**9),
    st.integers(min_value=0, max_value=10**9),
    st.tuples(prices, prices, prices, prices),
    st.tuples(amounts, amounts, amounts, amounts),
    st.integers(min_value=0, max_value=2**53),
)
rows = st.tuples(candles, st.fixed_dictionaries({name: indicator_values for name in INDICATOR_NAMES}))
names = st.text(
    alphabet=st.characters(blacklist_categories=("Zs", "Cc", "Zl", "Zp", "Cs"), blacklist_characters="\x85"),
    min_size=1,
    max_size=40,
)


def columns_of(batch: list[tuple[Candle, dict[str, float]]]) -> dict[str, np.ndarray]:
    columns = {
        "open_time_ms": np.array([c.open_time for c, _ in batch], np.int64),
        "close_time_ms": np.array([c.close_time for c, _ in batch], np.int64),
        "trades": np.array([c.trades for c, _ in batch], float),
    }
    for name in ("open", "high", "low", "close", "volume", "quote_volume", "taker_buy_base_volume",
                 "taker_buy_quote_volume"):  # fmt: skip
        columns[name] = np.array([getattr(c, name) for c, _ in batch], float)
    for name in INDICATOR_NAMES:
        columns[name] = np.array([values[name] for _, values in batch], float)
    return columns


@settings(max_examples=150, deadline=None)
@given(st.lists(rows, min_size=1, max_size=30), st.sampled_from(["backtest", "replay", "live"]), names)
def test_the_history_path_writes_the_live_paths_bytes_for_every_candle(
    batch: list[tuple[Candle, dict[str, float]]], source: str, strategy: str
) -> None:
    encoded = CandleEvent.encode_columns(
        columns_of(batch), source=source, run_id="run-1", symbol=SYMBOL, interval=INTERVAL, strategy=strategy
    )  # type: ignore[arg-type]
    assert len(encoded) == len(batch)
    for (candle, indicators), fast in zip(batch, encoded, strict=True):
        live = CandleEvent.of_candle(candle, indicators, source=source, run_id="run-1", strategy=strategy)  # type: ignore[arg-type]
        assert fast == encode(live)
        assert decode(fast) == live


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["candle", "trade", "x"]), names, st.integers(0, MAX_MS)), max_size=5),
    st.none() | names,
)
def test_event_ids_are_the_uuid5_they_always_were(
    parts: list[tuple[str, str, int]], last: str | None
) -> None:
    flat = [part for triple in parts for part in triple] + [last]
    namespace = uuid.UUID("6f1c8f52-2a6e-5a0c-9a55-3c1b0f1e7d21")
    expected = str(uuid.uuid5(namespace, "|".join("" if p is None else str(p) for p in flat)))
    assert event_id(*flat) == expected


def test_missing_optional_columns_are_null_and_warming_indicators_too() -> None:
    columns = {
        "open_time_ms": [1_700_000_000_000],
        "close_time_ms": [1_700_000_059_999],
        "open": [2000.0],
        "high": [2010.0],
        "low": [1990.0],
        "close": [2005.0],
        "volume": [1.5],
        "rsi": [math.nan],
        "macd": [0.25],
    }
    (value,) = CandleEvent.encode_columns(
        columns, source="backtest", run_id="r", symbol=SYMBOL, interval=INTERVAL
    )
    event = decode(value)
    assert isinstance(event, CandleEvent)
    assert event.candle.quote_volume is None and event.candle.trades is None and event.strategy is None
    assert event.candle.indicators is not None
    assert event.candle.indicators.rsi is None and event.candle.indicators.macd == 0.25


@pytest.mark.parametrize(
    ("column", "bad"),
    [("open", 0.0), ("low", math.nan), ("volume", -1.0), ("close_time_ms", -5), ("trades", -3.0)],
)
def test_a_value_the_schema_rejects_raises_as_the_model_does(column: str, bad: float) -> None:
    columns: dict[str, list[float]] = {
        "open_time_ms": [0, 60_000, 120_000],
        "close_time_ms": [59_999, 119_999, 179_999],
        "open": [1.0] * 3, "high": [1.0] * 3, "low": [1.0] * 3, "close": [1.0] * 3,
        "volume": [0.0] * 3, "trades": [1.0] * 3,
    }  # fmt: skip
    columns[column][1] = bad
    with pytest.raises(ValidationError):
        CandleEvent.encode_columns(columns, source="backtest", run_id="r", symbol=SYMBOL, interval=INTERVAL)


def test_the_envelope_is_checked_like_the_models() -> None:
    columns = {name: [1.0] for name in ("open", "high", "low", "close", "volume")}
    columns |= {"open_time_ms": [0], "close_time_ms": [59_999]}
    with pytest.raises(ValidationError, match="symbol"):
        CandleEvent.encode_columns(columns, source="backtest", run_id="r", symbol="eth usdt", interval="1m")
    with pytest.raises(ValueError, match="unknown.*'price'"):
        CandleEvent.encode_columns(
            {**columns, "price": [1.0]}, source="backtest", run_id="r", symbol=SYMBOL, interval="1m"
        )
