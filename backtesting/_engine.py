"""Backtest orchestration: slice candles, compute indicators, evaluate the strategy, run the loop."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from backtesting._inputs import IndicatorInputs, price_arrays
from backtesting._kernel import simulate
from backtesting._stats import Stats, compute_stats
from cryptoflow.errors import ConfigurationError, DataError
from cryptoflow.indicators import resolve_params
from cryptoflow.strategies import REASONS, Strategy, load_strategy

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "SymbolResult",
    "backtest_symbol",
    "run_backtest",
    "slice_period",
]

FillModel = Literal["close", "intrabar"]
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TRADE_COLUMNS = [
    "symbol",
    "side",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "exit_reason",
    "quantity",
    "pnl",
    "fees",
]
"""A closed trade's columns, in the order the trades files write them."""


@dataclass(frozen=True)
class BacktestConfig:
    """How the engine trades; one object, validated once.

    Attributes
    ----------
    cash: starting equity in quote currency (split equally between symbols in a multi-symbol run).
    fill: ``"intrabar"`` (default: stops/take-profits on high/low, entries at the next open) or
        ``"close"`` (everything at the candle's close, as the original 2023 scripts did).
    fee_rate: taker fee per side as a fraction of the notional (0.0004 = 0.04 %).
    slippage_rate: adverse price move per fill as a fraction (0.0005 = 5 bp).
    fraction: share of the equity committed per position (1.0 = all-in, like the original scripts).
    leverage: notional multiplier on top of ``fraction``.
    close_at_end: close a position still open after the last candle at its close (reason ``end``);
        when false it is reported as the open position and only marked to market.
    """

    cash: float = 10_000.0
    fill: FillModel = "intrabar"
    fee_rate: float = 0.0004
    slippage_rate: float = 0.0
    fraction: float = 1.0
    leverage: float = 1.0
    close_at_end: bool = False

    def __post_init__(self) -> None:
        if self.fill not in ("close", "intrabar"):
            raise ConfigurationError(f"fill model must be 'close' or 'intrabar', got {self.fill!r}")
        checks = {
            "cash": self.cash > 0,
            "fee_rate": 0 <= self.fee_rate < 0.1,
            "slippage_rate": 0 <= self.slippage_rate < 0.1,
            "fraction": 0 < self.fraction <= 1,
            "leverage": 1 <= self.leverage <= 125,
        }
        for name, ok in checks.items():
            if not ok or not math.isfinite(float(getattr(self, name))):
                raise ConfigurationError(
                    f"backtest setting {name}={getattr(self, name)!r} is out of range "
                    "(cash > 0, 0 <= fee_rate/slippage_rate < 0.1, 0 < fraction <= 1, 1 <= leverage <= 125)"
                )


@dataclass
class SymbolResult:
    """One symbol's run: its candles and indicators, trades, equity curve and statistics.

    The run computes only the indicators its strategy's rules read (:attr:`computed_indicators`);
    :attr:`indicators` completes the set the first time it is read (reports and replays show them all).
    """

    symbol: str
    candles: pd.DataFrame = field(repr=False)
    trades: pd.DataFrame = field(repr=False)
    equity: pd.Series = field(repr=False)
    open_position: dict[str, Any] | None
    stats: Stats = field(repr=False)
    _inputs: IndicatorInputs = field(repr=False)  # what the rules read, each computed when first read

    @property
    def indicators(self) -> pd.DataFrame:
        """Every indicator on the candles' index (the frame passed in, if one was)."""
        return self._inputs.frame()

    @property
    def computed_indicators(self) -> tuple[str, ...]:
        """The indicators computed so far: after a run, exactly those the strategy's rules read."""
        return self._inputs.computed


@dataclass
class BacktestResult:
    """A whole run: per-symbol results, the combined trades, equity and statistics."""

    strategy: Strategy
    config: BacktestConfig
    preset: str
    symbols: dict[str, SymbolResult]
    trades: pd.DataFrame = field(repr=False)
    equity: pd.Series = field(repr=False)
    stats: Stats = field(repr=False)

    @property
    def open_positions(self) -> list[dict[str, Any]]:
        """Positions still open after the last candle (one per symbol at most)."""
        return [r.open_position for r in self.symbols.values() if r.open_position is not None]

    def to_json(self) -> dict[str, Any]:
        """The ``--trades-json`` document: ``{"trades": [...], "open_position": {...}|null, "stats": {...}}``.

        With several symbols every trade carries its ``symbol`` and ``open_position`` is the first
        open one (all of them are under ``open_positions``).
        """
        multi = len(self.symbols) > 1
        trades = [_trade_json(row, with_symbol=multi) for row in self.trades.itertuples(index=False)]
        opened = self.open_positions
        doc: dict[str, Any] = {
            "trades": trades,
            "open_position": opened[0] if opened else None,
            "stats": self.stats.to_json(),
        }
        if multi:
            doc["open_positions"] = opened
        return doc


def _fmt_time(stamp: pd.Timestamp) -> str:
    return pd.Timestamp(stamp).tz_convert("UTC").strftime(TIME_FORMAT)


def _trade_json(row: Any, *, with_symbol: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {"symbol": row.symbol} if with_symbol else {}
    doc.update(
        side=row.side,
        entry_time=_fmt_time(row.entry_time),
        entry_price=float(row.entry_price),
        exit_time=_fmt_time(row.exit_time),
        exit_price=float(row.exit_price),
        exit_reason=row.exit_reason,
        pnl=float(row.pnl),
        fees=float(row.fees),
    )
    return doc


def _parse_bound(value: str | pd.Timestamp | None, *, end: bool) -> pd.Timestamp | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot read {value!r} as a date/time (e.g. 2022-01-01 or 2022-01-01T12:00)"
        ) from exc
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    if end and text is not None and len(text.strip()) <= 10:
        # a date alone means the whole day (inclusive)
        stamp = stamp + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    return stamp


def slice_period(
    candles: pd.DataFrame, start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None
) -> pd.DataFrame:
    """Candles whose open time is within ``[start, end]`` (both inclusive; a bare date as ``end`` is the
    whole day). Naive bounds are UTC."""
    lo, hi = _parse_bound(start, end=False), _parse_bound(end, end=True)
    index = candles.index
    if lo is None and hi is None:
        return candles
    if isinstance(index, pd.DatetimeIndex) and index.is_monotonic_increasing:
        first = 0 if lo is None else int(index.searchsorted(lo, side="left"))
        stop = len(index) if hi is None else int(index.searchsorted(hi, side="right"))
        return candles.iloc[first:stop]  # a view, not a copy
    mask = np.ones(len(candles), dtype=bool)
    if lo is not None:
        mask &= index >= lo
    if hi is not None:
        mask &= index <= hi
    return candles.loc[mask]


def _trades_frame(raw: np.ndarray, index: pd.DatetimeIndex, symbol: str) -> pd.DataFrame:
    entry_idx = raw[:, 1].astype(np.int64)
    exit_idx = raw[:, 2].astype(np.int64)
    return pd.DataFrame(
        {
            "symbol": symbol,
            "side": np.where(raw[:, 0] > 0, "long", "short"),
            "entry_time": index[entry_idx],
            "entry_price": raw[:, 3],
            "exit_time": index[exit_idx],
            "exit_price": raw[:, 4],
            "exit_reason": np.asarray(REASONS, dtype=object)[raw[:, 5].astype(np.int64)],
            "quantity": raw[:, 6],
            "pnl": raw[:, 7],
            "fees": raw[:, 8],
            "entry_bar": entry_idx,
            "exit_bar": exit_idx,
        }
    )


def _pct(value: float | None) -> float:
    return 0.0 if value is None else float(value) / 100.0


def _simulate(
    prices: dict[str, np.ndarray],
    inputs: IndicatorInputs,
    strategy: Strategy,
    config: BacktestConfig,
    first_entry: int = 0,
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """The strategy's rules, then the compiled loop over the prices and their signals; no position
    opens before the candle ``first_entry`` (the candles before it only warm the indicators up).

    What only the rules need (their signals, float64 copies of the flags) dies with this call, before
    the loop's equity and the statistics need memory of their own.
    """
    signals = strategy.evaluate(inputs)
    inputs.release_copies()
    if first_entry > 0:  # copies: a rule may answer with a read-only or shared array
        warm_up = np.arange(len(prices["close"])) < first_entry
        signals = replace(
            signals, entry_long=signals.entry_long & ~warm_up, entry_short=signals.entry_short & ~warm_up
        )
    settings = np.array(
        [
            1.0 if config.fill == "intrabar" else 0.0,
            _pct(strategy.stop_loss_pct),
            _pct(strategy.take_profit_pct),
            _pct(strategy.trailing_stop_pct),
            float(strategy.max_holding_candles or 0),
            config.fee_rate,
            config.slippage_rate,
            config.fraction,
            config.leverage,
            config.cash,
            1.0 if config.close_at_end else 0.0,
        ]
    )
    rules = (signals.entry_long, signals.entry_short, signals.exit_long, signals.exit_short)
    # contiguous (no copy when they already are): the loop is compiled once, for that layout
    entry_long, entry_short, exit_long, exit_short = (np.ascontiguousarray(rule) for rule in rules)
    return simulate(
        prices["open"],
        prices["high"],
        prices["low"],
        prices["close"],
        entry_long,
        entry_short,
        exit_long,
        exit_short,
        settings,
    )


@dataclass(frozen=True)
class _Run:
    """What the compiled loop returns for one symbol, with the prices and indicators it read."""

    prices: dict[str, np.ndarray]
    inputs: IndicatorInputs
    trades: np.ndarray  # (n_trades, 9): see simulate
    equity: np.ndarray
    position: np.ndarray


def run_kernel(
    candles: pd.DataFrame,
    strategy: Strategy,
    config: BacktestConfig,
    *,
    indicators: pd.DataFrame | Mapping[str, np.ndarray] | None = None,
    preset: str | None = None,
    symbol: str,
    first_entry: int = 0,
) -> _Run:
    """The strategy's rules evaluated on ``candles`` and the compiled loop run over them: no frames, no
    statistics (the portfolio backtest reads only the trades). No position opens before the candle
    ``first_entry``: the candles before it only warm the indicators up."""
    if len(candles) == 0:
        raise DataError(f"{symbol}: no candles in the selected period")
    prices = price_arrays(candles, symbol)
    if isinstance(indicators, pd.DataFrame) and len(indicators) != len(candles):
        raise DataError(f"{symbol}: indicators have {len(indicators)} rows for {len(candles)} candles")
    params = resolve_params(preset or strategy.indicator_preset, **strategy.indicator_params())
    declared = strategy.declared_indicators()
    inputs = IndicatorInputs(candles, prices, params, indicators, declared, strategy.lookback)
    raw, n_trades, equity_values, position = _simulate(prices, inputs, strategy, config, first_entry)
    return _Run(prices, inputs, raw[:n_trades], equity_values, position)


def backtest_symbol(
    candles: pd.DataFrame,
    strategy: Strategy,
    config: BacktestConfig,
    *,
    indicators: pd.DataFrame | Mapping[str, np.ndarray] | None = None,
    preset: str | None = None,
    symbol: str | None = None,
) -> SymbolResult:
    """Backtest one symbol's candles (already sliced to the period).

    ``indicators`` (a frame aligned with ``candles``, or a mapping of aligned arrays read when a rule
    reads them) are read instead of computed; otherwise the indicators the
    strategy's rules read, and only those, are computed by
    :func:`cryptoflow.indicators.compute_arrays` with the strategy's periods and ``preset`` (default:
    the strategy's ``indicator_preset``).
    """
    symbol = symbol or str(candles.attrs.get("symbol") or "SYMBOL")
    run = run_kernel(candles, strategy, config, indicators=indicators, preset=preset, symbol=symbol)
    prices, position, inputs = run.prices, run.position, run.inputs
    index = pd.DatetimeIndex(candles.index)
    trades = _trades_frame(run.trades, index, symbol)
    equity = pd.Series(run.equity, index=index, name="equity", copy=False)
    open_position = None
    if position[0] != 0:
        last_close = float(prices["close"][-1])
        side = 1.0 if position[0] > 0 else -1.0
        open_position = {
            "symbol": symbol,
            "side": "long" if side > 0 else "short",
            "entry_time": _fmt_time(index[int(position[1])]),
            "entry_price": float(position[2]),
            "quantity": float(position[3]),
            "mark_time": _fmt_time(index[-1]),
            "mark_price": last_close,
            "unrealized_pnl": float(side * position[3] * (last_close - position[2]) - position[4]),
        }
    stats = compute_stats(trades, equity, initial_equity=config.cash)
    return SymbolResult(symbol, candles, trades, equity, open_position, stats, inputs)


def run_backtest(
    data: pd.DataFrame | Mapping[str, pd.DataFrame],
    strategy: Strategy | str,
    config: BacktestConfig | None = None,
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    preset: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """Backtest ``strategy`` on one or several symbols.

    Parameters
    ----------
    data: candles of one symbol (columns ``open, high, low, close, volume`` indexed by UTC open time),
        or ``{symbol: candles}`` for several; each symbol trades its own equal share of the cash.
    strategy: a :class:`~cryptoflow.strategies.Strategy` instance or a name/path for
        :func:`~cryptoflow.strategies.load_strategy`.
    config: engine settings (:class:`BacktestConfig`; default intrabar fills, 0.04 % fee, all-in).
    start, end: inclusive bounds on the candle open time; indicators are computed on the sliced
        candles, as the original scripts did.
    preset: indicator preset (``"ta"`` or ``"seed"``); default the strategy's own.
    progress: called with the symbol's name after each symbol is done.

    Example::

        candles = load_candles("ETHUSDT_1h.csv")
        result = run_backtest(candles, "custom", BacktestConfig(fill="close"), preset="seed",
                              start="2022-01-01", end="2022-06-30")
        result.stats["total_return_pct"]
    """
    config = config or BacktestConfig()
    strategy = load_strategy(strategy) if isinstance(strategy, str) else strategy
    frames = (
        {str(data.attrs.get("symbol") or "SYMBOL"): data} if isinstance(data, pd.DataFrame) else dict(data)
    )
    if not frames:
        raise DataError("no candles given")
    share = BacktestConfig(**{**config.__dict__, "cash": config.cash / len(frames)})
    results: dict[str, SymbolResult] = {}
    for symbol, candles in frames.items():
        period = slice_period(candles, start, end)
        results[symbol] = backtest_symbol(period, strategy, share, preset=preset, symbol=symbol)
        if progress is not None:
            progress(symbol)
    if len(results) == 1:
        only = next(iter(results.values()))
        trades, equity, stats = only.trades, only.equity, only.stats
    else:
        trades = (
            pd.concat([r.trades for r in results.values()], ignore_index=True)
            .sort_values(["exit_time", "symbol"], kind="stable")
            .reset_index(drop=True)
        )
        curves = pd.concat({s: r.equity for s, r in results.items()}, axis=1).sort_index()
        equity = curves.ffill().fillna(share.cash).sum(axis=1).rename("equity")
        stats = compute_stats(trades, equity, initial_equity=config.cash)
    return BacktestResult(
        strategy, config, preset or strategy.indicator_preset, results, trades, equity, stats
    )
