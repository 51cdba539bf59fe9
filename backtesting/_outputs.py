"""Trade lists on disk: the ``--trades-json`` document and a flat CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from backtesting._engine import TIME_FORMAT, TRADE_COLUMNS, BacktestResult

if TYPE_CHECKING:
    from backtesting._portfolio import PortfolioResult

__all__ = ["write_trades_csv", "write_trades_json"]


def write_trades_json(result: BacktestResult | PortfolioResult, path: str | Path) -> Path:
    """Write ``{"trades": [...], "open_position": {...}|null, "stats": {...}}`` (times: candle open, UTC);
    a bot's backtest adds its skips and locks (:meth:`PortfolioResult.to_json`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def write_trades_csv(result: BacktestResult | PortfolioResult, path: str | Path) -> Path:
    """Write one row per closed trade (columns as in the JSON plus ``symbol`` and ``quantity``; a bot's
    backtest starts with ``strategy`` and ``run_id``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    owners = [column for column in ("strategy", "run_id") if column in result.trades]
    frame = result.trades[owners + TRADE_COLUMNS].copy()
    for column in ("entry_time", "exit_time"):
        frame[column] = frame[column].dt.tz_convert("UTC").dt.strftime(TIME_FORMAT)
    frame.to_csv(path, index=False, float_format="%.10g")
    return path
