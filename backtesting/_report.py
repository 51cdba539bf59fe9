"""One self-contained Plotly HTML page per backtest, drawn from the strategy's ``plot_config``."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backtesting._engine import BacktestResult, SymbolResult
from backtesting._stats import STAT_LABELS, Stats

__all__ = [
    "add_candles",
    "add_equity",
    "add_indicator_panel",
    "add_trades",
    "build_figure",
    "render_report",
    "write_report",
]

_WIN, _LOSS = "#26a69a", "#ef5350"
_STYLE = """body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table.stats { border-collapse: collapse; margin: 1em 0; font-size: 14px; }
table.stats th { text-align: left; padding: 2px 16px 2px 0; font-weight: normal; color: #555; }
table.stats td { text-align: right; padding: 2px 0; font-variant-numeric: tabular-nums; }"""
_LINE_COLORS = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")


def add_candles(fig: go.Figure, candles: pd.DataFrame, *, row: int, volume_row: int | None) -> None:
    """Candlesticks on ``row`` and volume bars on ``volume_row``."""
    fig.add_trace(
        go.Candlestick(
            x=candles.index,
            open=candles["open"],
            high=candles["high"],
            low=candles["low"],
            close=candles["close"],
            name="price",
            increasing_line_color=_WIN,
            decreasing_line_color=_LOSS,
        ),
        row=row,
        col=1,
    )
    if volume_row is not None and "volume" in candles:
        colors = np.where(candles["close"] >= candles["open"], _WIN, _LOSS)
        fig.add_trace(
            go.Bar(x=candles.index, y=candles["volume"], name="volume", marker_color=colors, opacity=0.6),
            row=volume_row,
            col=1,
        )


def add_trades(fig: go.Figure, trades: pd.DataFrame, *, row: int) -> None:
    """Entry and exit markers, and one segment per trade from entry to exit coloured by its result."""
    if trades.empty:
        return
    xs: dict[bool, list[Any]] = {True: [], False: []}
    ys: dict[bool, list[Any]] = {True: [], False: []}
    for trade in trades.itertuples(index=False):
        won = trade.pnl > 0
        xs[won] += [trade.entry_time, trade.exit_time, None]
        ys[won] += [trade.entry_price, trade.exit_price, None]
    for won, label in ((True, "winning trade"), (False, "losing trade")):
        if xs[won]:
            fig.add_trace(
                go.Scatter(
                    x=xs[won],
                    y=ys[won],
                    mode="lines",
                    line={"color": _WIN if won else _LOSS, "width": 2, "dash": "dot"},
                    name=label,
                ),
                row=row,
                col=1,
            )
    is_long = trades["side"].eq("long")
    hover = [  # a bot's trades also say which strategy made them
        f"{getattr(t, 'strategy', '')} {t.side} {t.exit_reason}".strip()
        + f"<br>pnl {t.pnl:,.2f}<br>{t.entry_price:.4f} → {t.exit_price:.4f}"
        for t in trades.itertuples(index=False)
    ]
    hover_arr = np.asarray(hover, dtype=object)
    for mask, name, symbol, color in (
        (is_long, "long entry", "triangle-up", _WIN),
        (~is_long, "short entry", "triangle-down", _LOSS),
    ):
        if mask.any():
            fig.add_trace(
                go.Scatter(
                    x=trades.loc[mask, "entry_time"],
                    y=trades.loc[mask, "entry_price"],
                    mode="markers",
                    marker={
                        "symbol": symbol,
                        "size": 10,
                        "color": color,
                        "line": {"width": 1, "color": "#333"},
                    },
                    name=name,
                    text=hover_arr[mask.to_numpy()],
                    hoverinfo="text+x",
                ),
                row=row,
                col=1,
            )
    fig.add_trace(
        go.Scatter(
            x=trades["exit_time"],
            y=trades["exit_price"],
            mode="markers",
            marker={"symbol": "x", "size": 9, "color": "#333"},
            name="exit",
            text=hover_arr,
            hoverinfo="text+x",
        ),
        row=row,
        col=1,
    )


def add_indicator_panel(
    fig: go.Figure, indicators: pd.DataFrame, panel: dict[str, Any], *, row: int, name: str
) -> None:
    """One subplot: ``lines`` as lines, ``bars`` as bars, ``bands`` as dashed horizontal levels."""
    for k, column in enumerate(panel.get("lines", [])):
        if column in indicators:
            fig.add_trace(
                go.Scatter(
                    x=indicators.index,
                    y=indicators[column],
                    mode="lines",
                    name=column,
                    line={"width": 1.2, "color": _LINE_COLORS[k % len(_LINE_COLORS)]},
                ),
                row=row,
                col=1,
            )
    for column in panel.get("bars", []):
        if column in indicators:
            values = indicators[column]
            fig.add_trace(
                go.Bar(
                    x=indicators.index,
                    y=values,
                    name=column,
                    marker_color=np.where(values.fillna(0) >= 0, _WIN, _LOSS),
                    opacity=0.6,
                ),
                row=row,
                col=1,
            )
    for level in panel.get("bands", []):
        fig.add_hline(y=level, line={"dash": "dash", "color": "#999", "width": 1}, row=row, col=1)
    fig.update_yaxes(title_text=name, row=row, col=1)


def add_equity(fig: go.Figure, stats: Stats, *, equity_row: int, drawdown_row: int) -> None:
    """Equity curve and drawdown (percent below the running peak)."""
    curve = stats.equity
    fig.add_trace(
        go.Scatter(x=curve.index, y=curve["equity"], mode="lines", name="equity", line={"color": "#1f77b4"}),
        row=equity_row,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=curve.index,
            y=curve["drawdown_pct"],
            mode="lines",
            name="drawdown %",
            fill="tozeroy",
            line={"color": _LOSS, "width": 1},
        ),
        row=drawdown_row,
        col=1,
    )
    fig.update_yaxes(title_text="equity", row=equity_row, col=1)
    fig.update_yaxes(title_text="drawdown %", row=drawdown_row, col=1)


def build_figure(symbol_result: SymbolResult, plot_config: dict[str, Any], title: str) -> go.Figure:
    """The full figure for one symbol: price, volume, the configured indicator panels, equity, drawdown."""
    subplots: dict[str, Any] = dict(plot_config.get("subplots", {}))
    names = ["price", "volume", *subplots, "equity", "drawdown"]
    heights = [0.34, 0.08] + [0.12] * len(subplots) + [0.14, 0.08]
    fig = make_subplots(
        rows=len(names),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.015,
        row_heights=[h / sum(heights) for h in heights],
    )
    add_candles(fig, symbol_result.candles, row=1, volume_row=2)
    for k, column in enumerate(plot_config.get("main_plot", [])):
        if column in symbol_result.indicators:
            fig.add_trace(
                go.Scatter(
                    x=symbol_result.indicators.index,
                    y=symbol_result.indicators[column],
                    mode="lines",
                    name=column,
                    line={"color": _LINE_COLORS[k % len(_LINE_COLORS)]},
                ),
                row=1,
                col=1,
            )
    add_trades(fig, symbol_result.trades, row=1)
    for offset, (name, panel) in enumerate(subplots.items()):
        add_indicator_panel(fig, symbol_result.indicators, panel, row=3 + offset, name=name)
    add_equity(fig, symbol_result.stats, equity_row=len(names) - 1, drawdown_row=len(names))
    fig.update_yaxes(title_text=symbol_result.symbol, row=1, col=1)
    fig.update_yaxes(title_text="volume", row=2, col=1)
    fig.update_layout(
        title=title,
        height=300 + 160 * len(names),
        xaxis_rangeslider_visible=False,
        hovermode="x unified",
        template="plotly_white",
        legend={"orientation": "h", "y": 1.02, "x": 0},
        bargap=0,
    )
    return fig


def _format(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:,.2f}"
    return str(value)


def _stats_table(stats: Stats) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(_format(stats.values.get(key)))}</td></tr>"
        for key, label in STAT_LABELS.items()
        if key in stats
    )
    return f"<table class='stats'>{rows}</table>"


def render_report(result: BacktestResult) -> str:
    """The report as one HTML string (plotly.js inlined: opens offline)."""
    strategy = result.strategy
    heading = (
        f"{html.escape(strategy.describe())} · fill {result.config.fill} · preset {result.preset} · "
        f"{', '.join(map(html.escape, result.symbols))}"
    )
    parts = []
    include_js: bool | str = True
    for symbol_result in result.symbols.values():
        fig = build_figure(
            symbol_result, dict(strategy.plot_config), f"{symbol_result.symbol} — {strategy.name}"
        )
        parts.append(fig.to_html(include_plotlyjs=include_js, full_html=False))
        include_js = False  # one copy of plotly.js per page
    table = _stats_table(result.stats)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cryptoflow backtest: {html.escape(strategy.name)}</title>
<style>
{_STYLE}
</style></head>
<body><h1>Backtest report</h1><p>{heading}</p>
<h2>Statistics</h2>{table}
{"".join(parts)}
</body></html>
"""


def write_report(result: BacktestResult, path: str | Path) -> Path:
    """Write :func:`render_report` to ``path`` (UTF-8) and return the path."""
    return _write_page(render_report(result), path)


def _write_page(page: str, path: str | Path) -> Path:
    """Write an HTML page (UTF-8), creating its folder; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
