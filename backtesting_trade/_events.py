"""A backtest's candles (with indicators) and trades as events, in time order, with stable ids."""

from __future__ import annotations

import hashlib
import heapq
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from cryptoflow.candles import BINANCE_INTERVALS, interval_ms
from cryptoflow.errors import DataError
from cryptoflow.events import (
    EVENT_TOPICS,
    INDICATOR_NAMES,
    CandleEvent,
    Event,
    Source,
    TradeEvent,
    TradePayload,
    encode,
)
from cryptoflow.strategies import Strategy

__all__ = [
    "BacktestRun",
    "EncodedBatch",
    "SymbolRun",
    "backtest_events",
    "count_events",
    "default_run_id",
    "encoded_events",
    "result_interval",
]


class SymbolRun(Protocol):
    """What a replay reads of one symbol's backtest (``backtesting.SymbolResult`` is one): the candles
    (open times as the index), their indicators, the closed trades and the position still open."""

    @property
    def candles(self) -> pd.DataFrame: ...
    @property
    def indicators(self) -> pd.DataFrame: ...
    @property
    def trades(self) -> pd.DataFrame: ...
    @property
    def open_position(self) -> dict[str, Any] | None: ...


class BacktestRun(Protocol):
    """What a replay reads of a backtest (``backtesting.BacktestResult`` is one). The replay depends on
    this shape, not on the backtester, so neither application imports the other."""

    @property
    def strategy(self) -> Strategy: ...
    @property
    def config(self) -> Any: ...  # its ``fee_rate``, and all its fields for the run id
    @property
    def preset(self) -> str: ...
    @property
    def symbols(self) -> Mapping[str, SymbolRun]: ...
    @property
    def open_positions(self) -> list[dict[str, Any]]: ...


_UNSAFE = re.compile(r"[^A-Za-z0-9._:\-]+")


def result_interval(result: BacktestRun, interval: str | None = None) -> str:
    """The candle interval of a run: ``interval`` if given, else the candles' ``attrs``, else inferred
    from the spacing of the open times."""
    if interval:
        interval_ms(interval)  # validates
        return interval
    for symbol_result in result.symbols.values():
        named = symbol_result.candles.attrs.get("interval")
        if named:
            return str(named)
    for symbol_result in result.symbols.values():
        index = symbol_result.candles.index
        if len(index) > 1:
            step = int(np.median(np.diff(index.asi8)) // 1_000_000)
            for name in BINANCE_INTERVALS:
                if interval_ms(name) == step:
                    return name
    raise DataError("cannot tell the candle interval of this run: pass --interval (e.g. 1h)")


def default_run_id(result: BacktestRun, interval: str) -> str:
    """A run id that is the same whenever the same backtest is replayed: strategy, symbols, interval and
    a hash of the parameters, engine settings, preset and candle period.

    >>> default_run_id(result, "1h")  # doctest: +SKIP
    'custom-ETHUSDT-1h-3f9c2a1b'
    """
    fingerprint: dict[str, Any] = {
        "strategy": result.strategy.describe(),
        "params": {k: repr(v) for k, v in sorted(result.strategy.params().items())},
        "config": {k: repr(v) for k, v in sorted(result.config.__dict__.items())},
        "preset": result.preset,
        "interval": interval,
        "symbols": {
            symbol: [len(r.candles), _ms(r.candles.index[0]), _ms(r.candles.index[-1])]
            for symbol, r in sorted(result.symbols.items())
            if len(r.candles)
        },
    }
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:10]
    symbols = "+".join(sorted(result.symbols))
    run_id = f"{result.strategy.name}-{symbols}-{interval}-{digest}"
    return _UNSAFE.sub("_", run_id)[-128:]


def count_events(result: BacktestRun) -> dict[str, int]:
    """How many events :func:`backtest_events` yields, by kind (``candle``, ``trade``)."""
    trades = sum(2 * len(r.trades) for r in result.symbols.values())
    trades += len(result.open_positions)
    return {"candle": sum(len(r.candles) for r in result.symbols.values()), "trade": trades}


def backtest_events(
    result: BacktestRun, *, run_id: str, interval: str, source: Source = "backtest"
) -> Iterator[Event]:
    """Every candle of the run (with its indicators) and every trade leg (``open`` at entry, ``close``
    at exit; a position still open at the end has only its ``open`` leg), symbol by symbol, in time
    order (a trade leg right after the candle it was filled on).

    Ids are deterministic (source, run, symbol, interval, time, leg), so replaying the same run twice
    yields the same events.
    """
    for symbol, symbol_result in result.symbols.items():
        candles = _candle_events(symbol_result, symbol, run_id, interval, source, result.strategy.name)
        trades = _trade_events(result, symbol_result, symbol, run_id, interval, source)
        # (time, order, seq): candles before trade legs of the same time, legs in their own order
        yield from (event for _, _, _, event in heapq.merge(candles, trades, key=lambda item: item[:3]))


@dataclass(frozen=True)
class EncodedBatch:
    """Encoded events of one topic kind (``candles``, ``trades``) and one Kafka key, in order: what
    :meth:`EventProducer.send_encoded <cryptoflow.kafka.EventProducer.send_encoded>` takes."""

    kind: str
    key: bytes
    values: list[bytes]


def encoded_events(
    result: BacktestRun,
    *,
    run_id: str,
    interval: str,
    source: Source = "backtest",
    batch_size: int = 65_536,
) -> Iterator[EncodedBatch]:
    """The events of :func:`backtest_events`, encoded (the same bytes as :func:`~cryptoflow.events.encode`
    of each), built column-wise without a model per candle: symbol by symbol, its candles in batches of
    up to ``batch_size``, then its trade legs. Within a topic and a key the order is that of
    :func:`backtest_events`.
    """
    strategy = result.strategy.name
    for symbol, symbol_result in result.symbols.items():
        key = f"{symbol}|{interval}".encode()
        columns = _candle_columns(symbol_result, interval)
        rows = len(columns["open_time_ms"])
        for start in range(0, rows, batch_size):
            values = CandleEvent.encode_columns(
                {name: array[start : start + batch_size] for name, array in columns.items()},
                source=source,
                run_id=run_id,
                symbol=symbol,
                interval=interval,
                strategy=strategy,
            )
            yield EncodedBatch(EVENT_TOPICS["candle"], key, values)
        legs = [
            encode(event)
            for *_, event in _trade_events(result, symbol_result, symbol, run_id, interval, source)
        ]
        if legs:
            yield EncodedBatch(EVENT_TOPICS["trade"], key, legs)


def _ms(stamp: Any) -> int:
    return int(pd.Timestamp(stamp).value // 1_000_000)


def _candle_columns(result: SymbolRun, interval: str) -> dict[str, Any]:
    """The candles and their indicators as the columns of :meth:`CandleEvent.encode_columns`."""
    candles, indicators = result.candles, result.indicators
    open_ms = candles.index.asi8 // 1_000_000
    if "close_time" in candles:
        close_ms = candles["close_time"].to_numpy(dtype=np.int64)
    else:
        close_ms = open_ms + interval_ms(interval) - 1
    columns: dict[str, Any] = {"open_time_ms": open_ms, "close_time_ms": close_ms}
    for name in (
        "open", "high", "low", "close", "volume", "quote_volume", "trades",
        "taker_buy_base_volume", "taker_buy_quote_volume",
    ):  # fmt: skip
        if name in candles:
            columns[name] = candles[name].to_numpy(dtype=float)
    columns.setdefault("volume", np.zeros(len(candles)))
    for name in INDICATOR_NAMES:
        if name in indicators:
            columns[name] = indicators[name].to_numpy(dtype=float)
    return columns


def _candle_events(
    result: SymbolRun, symbol: str, run_id: str, interval: str, source: Source, strategy: str
) -> Iterator[tuple[int, int, int, Event]]:
    columns = _candle_columns(result, interval)
    open_ms = columns["open_time_ms"]
    for i in range(len(open_ms)):
        event = CandleEvent.of_columns(
            columns, i, source=source, run_id=run_id, symbol=symbol, interval=interval, strategy=strategy
        )
        yield int(open_ms[i]), 0, i, event


def _trade_events(
    result: BacktestRun,
    symbol_result: SymbolRun,
    symbol: str,
    run_id: str,
    interval: str,
    source: Source,
) -> Iterator[tuple[int, int, int, Event]]:
    fee_rate = result.config.fee_rate
    strategy = result.strategy.name
    legs: list[tuple[int, int, int, Event]] = []

    def leg(payload: TradePayload, seq: int) -> None:
        event = TradeEvent.create(
            source=source, run_id=run_id, strategy=strategy, symbol=symbol, interval=interval, trade=payload
        )
        legs.append((event.time_ms, 1, seq, event))

    for k, row in enumerate(symbol_result.trades.itertuples(index=False)):
        entry_ms, exit_ms = _ms(row.entry_time), _ms(row.exit_time)
        quantity, entry_price = float(row.quantity), float(row.entry_price)
        notional = quantity * entry_price
        entry = {
            "side": row.side,
            "quantity": quantity,
            "entry_time_ms": entry_ms,
            "entry_price": entry_price,
        }
        leg(TradePayload.open_leg(fees=notional * fee_rate, **entry), 2 * k)
        closed = TradePayload.close_leg(
            exit_time_ms=exit_ms,
            exit_price=float(row.exit_price),
            exit_reason=str(row.exit_reason),
            fees=float(row.fees),
            pnl=float(row.pnl),
            **entry,
        )
        leg(closed, 2 * k + 1)
    position = symbol_result.open_position
    if position is not None:
        entry_ms = _ms(pd.Timestamp(position["entry_time"], tz="UTC"))
        quantity, entry_price = float(position["quantity"]), float(position["entry_price"])
        payload = TradePayload.open_leg(
            side=position["side"],
            quantity=quantity,
            entry_time_ms=entry_ms,
            entry_price=entry_price,
            fees=quantity * entry_price * fee_rate,
        )
        leg(payload, 2 * len(symbol_result.trades))
    legs.sort(key=lambda item: item[:3])
    return iter(legs)
