"""What one backtest is asked for, in the user's terms: shared by ``cryptoflow backtest``, ``replay``,
``optimize`` and the demo, so each of them checks, loads and configures a run the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from backtesting._engine import BacktestConfig, FillModel
from cryptoflow.brokers import check_sizing
from cryptoflow.errors import ConfigurationError, check_range

if TYPE_CHECKING:
    import pandas as pd

    from cryptoflow.strategies import Strategy

__all__ = ["PRESETS", "BacktestRequest"]

PRESETS = ("ta", "seed")


def _check_time(option: str, value: str | None) -> None:
    import pandas as pd

    if value is None:
        return
    try:
        pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"{option} {value!r}: not a date/time; e.g. 2022-01-01 or 2022-01-01T12:00 (UTC)"
        ) from None


@dataclass(frozen=True)
class BacktestRequest:
    """Candle files, a strategy and the engine's settings, checked when created.

    Amounts are in quote currency, ``fee_pct`` and ``slippage_pct`` in percent (0.04 = Binance's taker
    fee); ``start``/``end`` are UTC times, inclusive (a bare date ``end`` covers the whole day). A
    :class:`~cryptoflow.errors.ConfigurationError` names the value by its ``cryptoflow backtest`` option.

    Example::

        request = BacktestRequest(data=(Path("ETHUSDT_1h.csv"),), strategy="basic", fee_pct=0.02)
        result = run_backtest(request.load_candles(), request.load_strategy(), request.config())
    """

    data: tuple[Path, ...]
    symbols: tuple[str, ...] = ()  # one per file, or one for all; default: read from each file
    interval: str | None = None
    strategy: str = "custom"  # built-in name or path/to/file.py[:Class]
    params: Mapping[str, str] = field(default_factory=dict)  # strategy parameters, name -> text
    preset: str | None = None  # indicator preset (PRESETS); default the strategy's own
    fill: FillModel = "intrabar"
    start: str | None = None
    end: str | None = None
    cash: float = 10_000.0
    fee_pct: float = 0.04
    slippage_pct: float = 0.0
    fraction: float = 1.0
    leverage: float = 1.0
    close_at_end: bool = False
    on_gap: Literal["warn", "fail", "fill"] = "warn"  # gaps in the candle grid (see load_candles)
    dedupe: bool = False

    def __post_init__(self) -> None:
        if self.preset is not None and self.preset not in PRESETS:
            raise ConfigurationError(f"--preset must be ta or seed, got {self.preset!r}")
        # Checked here, in the user's terms (the engine's own message speaks of fee_rate=-0.01 for -1 %).
        check_sizing(self.cash, self.fraction, self.leverage)
        check_range(
            "--fee-pct", self.fee_pct, "a percentage from 0 to below 10 (0.04 = Binance's taker fee)", 0, 10
        )
        check_range("--slippage-pct", self.slippage_pct, "a percentage from 0 to below 10", 0, 10)
        _check_time("--start", self.start)
        _check_time("--end", self.end)

    def config(self) -> BacktestConfig:
        """The engine's settings (fees and slippage as rates)."""
        return BacktestConfig(
            cash=self.cash,
            fill=self.fill,
            fee_rate=self.fee_pct / 100.0,
            slippage_rate=self.slippage_pct / 100.0,
            fraction=self.fraction,
            leverage=self.leverage,
            close_at_end=self.close_at_end,
        )

    def load_strategy(self) -> Strategy:
        """The strategy, by name or file, with ``params`` applied (unknown names are refused)."""
        from cryptoflow.strategies import load_strategy

        return load_strategy(self.strategy, **self.params)

    def load_candles(self) -> dict[str, pd.DataFrame]:
        """Every ``data`` file, validated, by symbol (from ``symbols``, else the file, else its name)."""
        from cryptoflow.candles import load_candles

        symbols, data = self.symbols, self.data
        if symbols and len(symbols) not in (1, len(data)):
            raise ConfigurationError(
                f"give one --symbol per --data file ({len(data)} files, {len(symbols)} given)"
            )
        frames: dict[str, Any] = {}
        for k, path in enumerate(data):
            symbol = (
                symbols[k] if symbols and len(symbols) == len(data) else (symbols[0] if symbols else None)
            )
            candles = load_candles(
                path,
                symbol=symbol,
                interval=self.interval,
                on_gap=self.on_gap,
                dedupe=self.dedupe,
            )
            name = str(candles.attrs.get("symbol") or symbol or path.stem)
            if name in frames:
                raise ConfigurationError(f"symbol {name} given twice; pass --symbol for each --data file")
            frames[name] = candles
        return frames
