"""One self-contained Plotly HTML page per portfolio backtest: the bot's equity and drawdown, PnL by
strategy and by symbol, the skipped signals and locks, and one price chart per symbol with its trades
(never two symbols on one axis). Drawn with the single-strategy report's ``add_*`` helpers."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backtesting._portfolio import PortfolioResult
from backtesting._report import (
    _LOSS,
    _STYLE,
    _WIN,
    _format,
    _stats_table,
    _write_page,
    add_candles,
    add_equity,
    add_trades,
)

__all__ = ["render_portfolio_report", "write_portfolio_report"]

_LAYOUT = {
    "template": "plotly_white",
    "hovermode": "x unified",
    "legend": {"orientation": "h", "y": 1.04, "x": 0},
}


def _equity_figure(result: PortfolioResult) -> go.Figure:
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.03, row_heights=[0.7, 0.3])
    add_equity(fig, result.stats, equity_row=1, drawdown_row=2)
    fig.update_layout(title=f"bot {result.bot.name}: equity and drawdown", height=520, **_LAYOUT)
    return fig


def _pnl_figure(result: PortfolioResult) -> go.Figure:
    labels = {s.run_id: s.describe() for s in result.bot.strategies}
    fig = make_subplots(rows=1, cols=2, subplot_titles=("PnL by strategy", "PnL by symbol"))
    for col, by in ((1, "run_id"), (2, "symbol")):
        frame = result.breakdown(by)
        names = [labels.get(str(name), str(name)) for name in frame.index]
        fig.add_trace(
            go.Bar(
                x=names,
                y=frame["pnl"],
                marker_color=[_WIN if pnl > 0 else _LOSS for pnl in frame["pnl"]],
                text=[f"{n} trade{'' if n == 1 else 's'}" for n in frame["trades"]],
                name=f"PnL by {'strategy' if by == 'run_id' else 'symbol'}",
                showlegend=False,
            ),
            row=1,
            col=col,
        )
    fig.update_yaxes(title_text="PnL [quote]", row=1, col=1)
    fig.update_layout(height=380, template="plotly_white")
    return fig


def _symbol_figure(result: PortfolioResult, symbol: str) -> go.Figure:
    """One symbol's candles, the bot's trades on it and the signals it skipped there."""
    fig = make_subplots(rows=1, cols=1)
    add_candles(fig, result.candles[symbol], row=1, volume_row=None)
    add_trades(fig, result.trades[result.trades["symbol"] == symbol], row=1)
    skipped = result.decisions[
        (result.decisions["symbol"] == symbol)
        & (result.decisions["verdict"] == "skip")
        & result.decisions["action"].str.startswith("entry")
    ]
    if not skipped.empty:
        fig.add_trace(
            go.Scatter(
                x=skipped["time"],
                y=skipped["price"],
                mode="markers",
                marker={"symbol": "circle-open", "size": 7, "color": "#888"},
                name="skipped entry",
                text=[f"{r.strategy} {r.action}: {r.code}" for r in skipped.itertuples(index=False)],
                hoverinfo="text+x",
            )
        )
    fig.update_yaxes(title_text=symbol, row=1, col=1)
    fig.update_layout(
        title=f"{symbol}: the bot's trades", height=460, xaxis_rangeslider_visible=False, **_LAYOUT
    )
    return fig


def _table(frame: pd.DataFrame, headers: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_format(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table class='grid'><tr>{head}</tr>{rows}</table>"


def _tables(result: PortfolioResult) -> str:
    labels = {s.run_id: s.describe() for s in result.bot.strategies}
    parts = []
    for by, heading in (("run_id", "strategy"), ("symbol", "symbol")):
        frame = result.breakdown(by).reset_index()
        frame[by] = [labels.get(str(name), str(name)) for name in frame[by]]
        parts.append(
            f"<h3>By {heading}</h3>" + _table(frame, [heading, "trades", "PnL", "fees", "win rate [%]"])
        )
    skips = pd.DataFrame(list(result.skips.items()), columns=["reason", "signals"])
    parts.append("<h3>Skipped signals</h3>" + _table(skips, ["reason", "signals"]))
    if not result.locks.empty:
        locks = result.locks.groupby("protection")["blocked"].agg(["size", "sum"]).reset_index()
        parts.append("<h3>Protection locks</h3>" + _table(locks, ["protection", "locks", "entries blocked"]))
    return "".join(f"<div class='box'>{part}</div>" for part in parts)


def render_portfolio_report(result: PortfolioResult) -> str:
    """The report as one HTML string (plotly.js inlined once: opens offline)."""
    bot = result.bot
    heading = (
        f"bot {html.escape(bot.name)} · broker {bot.broker} · capital {bot.capital.total:,.0f} · "
        f"{', '.join(html.escape(s.describe()) for s in bot.strategies)} · "
        f"{', '.join(map(html.escape, bot.symbols))} · fee {result.trading.fee_rate:.4%} · "
        + ("exchange-side stop/take-profit" if result.exchange_protection else "no exchange-side orders")
    )
    figures = [_equity_figure(result), _pnl_figure(result)] + [_symbol_figure(result, s) for s in bot.symbols]
    parts = [fig.to_html(include_plotlyjs=k == 0, full_html=False) for k, fig in enumerate(figures)]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>cryptoflow portfolio backtest: {html.escape(bot.name)}</title>
<style>
{_STYLE}
table.grid {{ border-collapse: collapse; font-size: 14px; }}
table.grid th, table.grid td {{ padding: 2px 12px 2px 0; text-align: right; }}
table.grid td {{ font-variant-numeric: tabular-nums; }}
table.grid th:first-child, table.grid td:first-child {{ text-align: left; }}
div.box {{ display: inline-block; vertical-align: top; margin: 0 2em 1em 0; }}
</style></head>
<body><h1>Portfolio backtest report</h1><p>{heading}</p>
<h2>Statistics</h2>{_stats_table(result.stats)}
{_tables(result)}
{"".join(parts)}
</body></html>
"""


def write_portfolio_report(result: PortfolioResult, path: str | Path) -> Path:
    """Write :func:`render_portfolio_report` to ``path`` (UTF-8) and return the path."""
    return _write_page(render_portfolio_report(result), path)
