"""The replayed market: real candles on a shared clock, intrabar kline states, Binance wire formats."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from cryptoflow.candles import Candle, interval_ms, load_candles
from cryptoflow.errors import DataError

__all__ = ["KlineState", "ReplayMarket", "SymbolRules", "candle_path"]

# Real USD-M futures filters of the shared symbols (tick, step, min notional); others are derived.
_KNOWN_RULES = {
    "BTCUSDT": ("0.10", "0.001", "100"),
    "ETHUSDT": ("0.01", "0.001", "20"),
    "BNBUSDT": ("0.010", "0.01", "5"),
    "SOLUSDT": ("0.0100", "1", "5"),
    "XRPUSDT": ("0.0001", "0.1", "5"),
}


@dataclass(frozen=True)
class SymbolRules:
    """Trading filters of one symbol as ``exchangeInfo`` publishes them (decimal strings)."""

    symbol: str
    tick_size: str
    step_size: str
    min_notional: str

    @property
    def price_decimals(self) -> int:
        """Digits after the point of ``tick_size``."""
        return max(0, -Decimal(self.tick_size).normalize().as_tuple().exponent)  # type: ignore[operator]

    @property
    def qty_decimals(self) -> int:
        """Digits after the point of ``step_size``."""
        return max(0, -Decimal(self.step_size).normalize().as_tuple().exponent)  # type: ignore[operator]

    def on_tick(self, price: float) -> float:
        """``price`` rounded to the nearest multiple of ``tick_size`` (every price the exchange sends)."""
        tick = Decimal(self.tick_size)
        return float((Decimal(repr(float(price))) / tick).quantize(Decimal(1), ROUND_HALF_UP) * tick)

    def base_asset(self) -> str:
        """``ETH`` for ``ETHUSDT`` (quote assets USDT, USDC, BUSD, BTC)."""
        for quote in ("USDT", "USDC", "BUSD", "BTC"):
            if self.symbol.endswith(quote) and len(self.symbol) > len(quote):
                return self.symbol[: -len(quote)]
        return self.symbol[:-4]

    def quote_asset(self) -> str:
        """``USDT`` for ``ETHUSDT``."""
        return self.symbol[len(self.base_asset()) :]


def _data_tick(prices: np.ndarray) -> str:
    """The tick the prices are written on (the most decimals any of the first 2,000 rows has)."""
    decimals = 0
    for value in prices[:2000].ravel():
        text = repr(float(value))
        if "." in text and "e" not in text:
            decimals = max(decimals, len(text.split(".")[1].rstrip("0")))
    decimals = min(decimals, 8)
    return f"{10.0**-decimals:.{decimals}f}" if decimals else "1"


def _rules(symbol: str, frame: pd.DataFrame) -> SymbolRules:
    """Binance's futures filters of a known symbol, derived ones otherwise; the tick is never coarser than
    the one the file's prices are written on (spot files are finer than futures: BTCUSDT 0.01 vs 0.10),
    so every replayed price lies on the grid exchangeInfo publishes."""
    data_tick = _data_tick(frame[["open", "high", "low", "close"]].to_numpy())
    if symbol not in _KNOWN_RULES:
        return _derived_rules(symbol, data_tick, frame["close"].to_numpy())
    tick, step, notional = _KNOWN_RULES[symbol]
    return SymbolRules(symbol, data_tick if Decimal(data_tick) < Decimal(tick) else tick, step, notional)


def _derived_rules(symbol: str, tick: str, closes: np.ndarray) -> SymbolRules:
    price = float(np.nanmedian(closes)) if len(closes) else 1.0
    step_decimals = max(0, min(8, int(math.ceil(math.log10(max(price, 1e-9)))) + 1))
    step = f"{10.0**-step_decimals:.{step_decimals}f}" if step_decimals else "1"
    return SymbolRules(symbol, tick, step, "5")


@dataclass(frozen=True, slots=True)
class KlineState(Candle):
    """One kline as sent at one moment: final (``is_closed``) or an intrabar snapshot, with the time the
    exchange sent it (``event_time``, epoch ms)."""

    event_time: int = 0


def candle_path(candle: Candle) -> list[float]:
    """The prices a candle passes through, in order, as the fake exchange replays it: open -> low -> high
    -> close for a rising (or flat) candle, open -> high -> low -> close for a falling one. The price moves
    in straight lines between these points; intrabar snapshots, stop triggers and limit fills follow it."""
    if candle.close >= candle.open:
        return [candle.open, candle.low, candle.high, candle.close]
    return [candle.open, candle.high, candle.low, candle.close]


class ReplayMarket:
    """Real candles of several symbols replayed on one clock.

    The clock is a position in the union of the symbols' open times; ``history`` candles are already in
    the past when the replay starts (REST ``klines`` serve them for warm-up). Each step sends
    ``updates_per_candle`` intrabar snapshots (``x=false``) of every symbol's candle, then the final one
    (``x=true``). A symbol without a candle at a step (a gap in its file) sends nothing.
    """

    def __init__(
        self,
        frames: Mapping[str, pd.DataFrame],
        interval: str,
        *,
        history: int = 300,
        updates_per_candle: int = 3,
        limit: int | None = None,
    ) -> None:
        if not frames:
            raise DataError("the fake exchange needs at least one candle file")
        self.interval = interval
        self.interval_ms = interval_ms(interval)
        self.updates_per_candle = max(0, int(updates_per_candle))
        self._frames: dict[str, pd.DataFrame] = {}
        self._times: dict[str, np.ndarray] = {}
        self.rules: dict[str, SymbolRules] = {}
        for symbol, frame in frames.items():
            times = (frame.index.asi8 // 1_000_000).astype(np.int64)
            self._frames[symbol] = frame
            self._times[symbol] = times
            self.rules[symbol] = _rules(symbol, frame)
        grid = np.unique(np.concatenate(list(self._times.values())))
        self.history = min(max(0, int(history)), len(grid))
        end = len(grid) if limit is None else min(len(grid), self.history + max(0, int(limit)))
        self.grid = grid[:end]
        self.cursor = self.history  # index in grid of the candle currently forming
        self.last_state: dict[str, KlineState] = {}
        self.last_closed: dict[str, KlineState] = {}
        self.forming: dict[str, KlineState] = {}  # the final state of each symbol's forming candle
        # the replay's clock (epoch ms): when the state being sent happens, inside its candle; before the
        # replay, the close of the last history candle. Orders, fills and user-stream events carry it, so
        # a fill lies in the candle whose prices made it, as on Binance.
        last = int(self.grid[self.history - 1]) if self.history else int(self.grid[0]) - self.interval_ms
        self.now_ms = last + self.interval_ms - 1

    @classmethod
    def from_files(cls, paths: Sequence[str | Path], **options: int | None) -> ReplayMarket:
        """Load candle files (any layout :func:`~cryptoflow.candles.load_candles` reads); one interval."""
        frames: dict[str, pd.DataFrame] = {}
        intervals = set()
        for path in paths:
            frame = load_candles(path)
            symbol = str(frame.attrs["symbol"]).upper()
            if symbol in frames:
                raise DataError(f"{path}: symbol {symbol} is given twice")
            frames[symbol] = frame
            intervals.add(str(frame.attrs["interval"]))
        if len(intervals) != 1:
            raise DataError(f"the candle files must share one interval, got {sorted(intervals)}")
        return cls(frames, intervals.pop(), **options)  # type: ignore[arg-type]

    @property
    def symbols(self) -> list[str]:
        """The replayed symbols, in the order given."""
        return list(self._frames)

    @property
    def finished(self) -> bool:
        """True once every candle of the replay has closed."""
        return self.cursor >= len(self.grid)

    def current_open_time(self) -> int | None:
        """Open time (ms) of the candle forming now, ``None`` after the end."""
        return None if self.finished else int(self.grid[self.cursor])

    def _row(self, symbol: str, open_time: int) -> int | None:
        times = self._times[symbol]
        pos = int(np.searchsorted(times, open_time))
        return pos if pos < len(times) and times[pos] == open_time else None

    def _final(self, symbol: str, pos: int, event_time: int) -> KlineState:
        frame = self._frames[symbol]
        row = frame.iloc[pos]
        open_time = int(self._times[symbol][pos])

        def num(name: str) -> float:
            value = row.get(name, 0.0)
            return 0.0 if value is None or value != value else float(value)

        return KlineState(
            symbol,
            self.interval,
            open_time,
            open_time + self.interval_ms - 1,
            float(row["open"]),
            float(row["high"]),
            float(row["low"]),
            float(row["close"]),
            num("volume"),
            num("quote_volume"),
            int(num("trades")),
            num("taker_buy_base_volume"),
            num("taker_buy_quote_volume"),
            True,
            event_time,
        )

    def _partial(self, final: KlineState, fraction: float) -> KlineState:
        """The candle ``fraction`` of the way through, on the path open -> low -> high -> close (or
        open -> high -> low -> close for a falling candle, see :func:`candle_path`), the price rounded to
        the tick, so every snapshot is a valid candle."""
        o = final.open
        points = candle_path(final)
        position = fraction * 3.0
        seg = min(int(position), 2)
        local = position - seg
        price = self.rules[final.symbol].on_tick(points[seg] + (points[seg + 1] - points[seg]) * local)
        visited = points[: seg + 1] + [price]
        return KlineState(
            final.symbol,
            final.interval,
            final.open_time,
            final.close_time,
            o,
            max(visited),
            min(visited),
            price,
            final.volume * fraction,
            final.quote_volume * fraction,
            int(final.trades * fraction),
            final.taker_buy_base_volume * fraction,
            final.taker_buy_quote_volume * fraction,
            False,
            final.open_time + int(self.interval_ms * fraction),
        )

    def step(self) -> Iterator[list[KlineState]]:
        """Advance the clock by one candle, yielding the kline states to send, one batch per moment
        (all symbols' snapshot ``j``, then all final ones). Updates :attr:`last_state` as it goes."""
        if self.finished:
            return
        open_time = int(self.grid[self.cursor])
        finals = []
        for symbol in self._frames:
            pos = self._row(symbol, open_time)
            if pos is not None:
                finals.append(self._final(symbol, pos, open_time + self.interval_ms))
                self.forming[symbol] = finals[-1]
        n = self.updates_per_candle
        for j in range(1, n + 1):
            batch = [self._partial(final, j / (n + 1)) for final in finals]
            for state in batch:
                self.last_state[state.symbol] = state
            self.now_ms = open_time + int(self.interval_ms * j / (n + 1))
            yield batch
        self.cursor += 1
        for state in finals:
            self.last_state[state.symbol] = state
            self.last_closed[state.symbol] = state
        self.now_ms = open_time + self.interval_ms - 1  # the final update still belongs to its candle
        yield finals

    def klines(
        self, symbol: str, *, start_time: int | None, end_time: int | None, limit: int
    ) -> list[KlineState]:
        """What REST ``klines`` answers now: closed candles and the forming one (as last sent), in
        ``[start_time, end_time]``, the first ``limit`` (the last ``limit`` when no start is given)."""
        times = self._times[symbol]
        current = self.current_open_time()
        horizon = int(self.grid[-1]) + 1 if current is None else current  # candles before it are closed
        lo = 0 if start_time is None else int(np.searchsorted(times, start_time))
        hi = int(np.searchsorted(times, horizon))
        if end_time is not None:
            hi = min(hi, int(np.searchsorted(times, end_time, side="right")))
        out = [self._final(symbol, pos, int(times[pos]) + self.interval_ms) for pos in range(lo, hi)]
        forming = self.last_state.get(symbol)
        if (
            forming is not None
            and not forming.is_closed
            and forming.open_time == current
            and (start_time is None or forming.open_time >= start_time)
            and (end_time is None or forming.open_time <= end_time)
        ):
            out.append(forming)
        if start_time is None:
            return out[-limit:]
        return out[:limit]

    def price(self, symbol: str, *, closed_only: bool = False) -> float:
        """The last traded price (the close of the last state sent, else of the last history candle);
        with ``closed_only``, the close of the last closed candle."""
        state = (self.last_closed if closed_only else self.last_state).get(symbol)
        return self.history_close(symbol) if state is None else state.close

    def history_close(self, symbol: str) -> float:
        """The close of the last candle before the replay (the price until the first state is sent)."""
        times = self._times[symbol]
        pos = int(np.searchsorted(times, int(self.grid[min(self.history, len(self.grid) - 1)]))) - 1
        return float(self._frames[symbol]["close"].iloc[max(pos, 0)])

    # ---- wire formats --------------------------------------------------------------------------

    def fmt_price(self, symbol: str, value: float) -> str:
        """A price as Binance writes it (fixed decimals of the tick size)."""
        return f"{value:.{max(self.rules[symbol].price_decimals, 2)}f}"

    def rest_row(self, state: KlineState) -> list[object]:
        """One row of REST ``klines`` (12 fields, numbers as strings)."""
        fp = self.fmt_price
        s = state.symbol
        return [
            state.open_time,
            fp(s, state.open),
            fp(s, state.high),
            fp(s, state.low),
            fp(s, state.close),
            f"{state.volume:.8f}",
            state.close_time,
            f"{state.quote_volume:.8f}",
            state.trades,
            f"{state.taker_buy_base_volume:.8f}",
            f"{state.taker_buy_quote_volume:.8f}",
            "0",
        ]

    def ws_event(self, state: KlineState, *, continuous: bool = False) -> dict[str, object]:
        """The payload of ``<symbol>@kline_<i>`` (or ``<pair>_perpetual@continuousKline_<i>``)."""
        fp = self.fmt_price
        s = state.symbol
        kline: dict[str, object] = {
            "t": state.open_time,
            "T": state.close_time,
            "s": s,
            "i": state.interval,
            "f": 100,
            "L": 100 + state.trades,
            "o": fp(s, state.open),
            "c": fp(s, state.close),
            "h": fp(s, state.high),
            "l": fp(s, state.low),
            "v": f"{state.volume:.8f}",
            "n": state.trades,
            "x": state.is_closed,
            "q": f"{state.quote_volume:.8f}",
            "V": f"{state.taker_buy_base_volume:.8f}",
            "Q": f"{state.taker_buy_quote_volume:.8f}",
            "B": "0",
        }
        if continuous:
            del kline["s"]
            return {"e": "continuous_kline", "E": state.event_time, "ps": s, "ct": "PERPETUAL", "k": kline}
        return {"e": "kline", "E": state.event_time, "s": s, "k": kline}
