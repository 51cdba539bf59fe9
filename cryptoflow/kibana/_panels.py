"""The visualisations of each dashboard: Market (candles and indicators), Trading (trades) and Realtime
(intrabar indicator updates), and the saved search of every trade leg."""

from __future__ import annotations

import json
from typing import Any

from cryptoflow.kibana._lens import (
    count,
    cumulative,
    date,
    formula,
    histogram,
    metric,
    metric_vis,
    series,
    table,
    terms,
    xy,
)
from cryptoflow.kibana._saved import DATA_VIEW_IDS, saved_object

__all__ = ["market", "realtime", "trade_search", "trading"]

_CLOSED = 'trade.leg : "close"'


def market() -> list[dict[str, Any]]:
    """Price, volume, RSI, MACD, CCI and engulfing candles, from the candles' data view."""
    ind = "candle.indicators"
    return [
        xy(
            "price",
            "Price (close, high, low)",
            "candles",
            [
                series(
                    "price-l",
                    "line",
                    date(),
                    [
                        metric("close", "average", "candle.close", "close"),
                        metric("high", "max", "candle.high", "high"),
                        metric("low", "min", "candle.low", "low"),
                    ],
                )
            ],
        ),
        xy(
            "volume",
            "Volume",
            "candles",
            [
                series(
                    "volume-l",
                    "bar_stacked",
                    date(),
                    [
                        metric("volume", "sum", "candle.volume", "volume"),
                    ],
                    split=terms("sym", "symbol", "symbol"),
                )
            ],
        ),
        xy(
            "rsi",
            "RSI with 30/70 bands",
            "candles",
            [
                series(
                    "rsi-l",
                    "line",
                    date(),
                    [
                        metric("rsi", "average", f"{ind}.rsi", "RSI"),
                    ],
                )
            ],
            references=(70.0, 30.0),
        ),
        xy(
            "macd",
            "MACD, signal and histogram",
            "candles",
            [
                series(
                    "macd-l",
                    "line",
                    date(),
                    [
                        metric("macd", "average", f"{ind}.macd", "MACD"),
                        metric("signal", "average", f"{ind}.macd_signal", "signal"),
                    ],
                ),
                series(
                    "macd-h",
                    "bar",
                    date("t2"),
                    [metric("hist", "average", f"{ind}.macd_hist", "histogram")],
                ),
            ],
        ),
        xy(
            "cci",
            "CCI with ±100",
            "candles",
            [
                series(
                    "cci-l",
                    "line",
                    date(),
                    [
                        metric("cci", "average", f"{ind}.cci", "CCI"),
                    ],
                )
            ],
            references=(100.0, -100.0),
        ),
        xy(
            "engulfing",
            "Engulfing candles (+1 bullish, -1 bearish)",
            "candles",
            [
                series(
                    "engulfing-l",
                    "bar",
                    date(),
                    [
                        metric("bull", "max", f"{ind}.engulfing", "bullish", kql=f"{ind}.engulfing > 0"),
                        metric("bear", "min", f"{ind}.engulfing", "bearish", kql=f"{ind}.engulfing < 0"),
                    ],
                ),
            ],
        ),
    ]


def trading() -> list[dict[str, Any]]:
    """Cumulative PnL, win rate, PnL distribution and open positions, from the trades' data view."""
    win = formula(
        "winrate",
        "win rate",
        "divide",
        count("w", "wins", "trade.pnl > 0"),
        count("n", "closed"),
        "count(kql='trade.pnl > 0') / count()",
        percent=True,
    )
    opened = formula(
        "open",
        "open positions",
        "subtract",
        count("o", "opened", 'trade.leg : "open"'),
        count("c", "closed", _CLOSED),
        "count(kql='trade.leg : \"open\"') - count(kql='trade.leg : \"close\"')",
    )
    return [
        xy(
            "cum-pnl",
            "Cumulative PnL (quote currency)",
            "trades",
            [
                series(
                    "cum-pnl-l",
                    "line",
                    date(),
                    [cumulative("cum", "pnl", "cumulative PnL")],
                    split=terms("strat", "strategy", "strategy"),
                    hidden=[metric("pnl", "sum", "trade.pnl", "PnL")],
                )
            ],
            query=_CLOSED,
        ),
        metric_vis(
            "win-rate",
            "Win rate, longs and shorts",
            "trades",
            [terms("side", "trade.side", "side", 2), *win],
            "winrate",
            "side",
            query=_CLOSED,
        ),
        xy(
            "pnl-dist",
            "PnL distribution (% per trade)",
            "trades",
            [
                series(
                    "pnl-dist-l",
                    "bar",
                    histogram("bucket", "trade.pnl_pct", "PnL %"),
                    [count("trades", "trades")],
                    split=terms("side", "trade.side", "side", 2),
                )
            ],
            query=_CLOSED,
        ),
        table(
            "open-positions",
            "Open positions",
            "trades",
            [
                terms("sym", "symbol", "symbol", 50),
                terms("strat", "strategy", "strategy", 20),
                terms("side", "trade.side", "side", 2),
                *opened,
            ],
            ["sym", "strat", "side", "open"],
        ),
    ]


def realtime() -> list[dict[str, Any]]:
    """The latest intrabar price, RSI, CCI and MACD per symbol, from the indicators' data view."""
    v = "indicator.values"
    sym = terms("sym", "symbol", "symbol", 20)
    return [
        metric_vis(
            "rt-close",
            "Latest price",
            "indicators",
            [sym, metric("close", "last_value", "indicator.close", "close")],
            "close",
            "sym",
        ),
        metric_vis(
            "rt-rsi",
            "Latest RSI (intrabar)",
            "indicators",
            [sym, metric("rsi", "last_value", f"{v}.rsi", "RSI")],
            "rsi",
            "sym",
        ),
        metric_vis(
            "rt-cci",
            "Latest CCI (intrabar)",
            "indicators",
            [sym, metric("cci", "last_value", f"{v}.cci", "CCI")],
            "cci",
            "sym",
        ),
        table(
            "rt-table",
            "Latest intrabar indicators",
            "indicators",
            [
                sym,
                metric("close", "last_value", "indicator.close", "close"),
                metric("rsi", "last_value", f"{v}.rsi", "RSI"),
                metric("macd", "last_value", f"{v}.macd", "MACD"),
                metric("hist", "last_value", f"{v}.macd_hist", "MACD hist"),
                metric("cci", "last_value", f"{v}.cci", "CCI"),
            ],
            ["sym", "close", "rsi", "macd", "hist", "cci"],
        ),
        xy(
            "rt-price",
            "Intrabar price",
            "indicators",
            [
                series(
                    "rt-price-l",
                    "line",
                    date(),
                    [metric("close", "average", "indicator.close", "close")],
                    split=sym,
                )
            ],
        ),
        xy(
            "rt-rsi-line",
            "Intrabar RSI",
            "indicators",
            [
                series(
                    "rt-rsi-line-l",
                    "line",
                    date(),
                    [metric("rsi", "average", f"{v}.rsi", "RSI")],
                    split=sym,
                )
            ],
            references=(70.0, 30.0),
        ),
    ]


def trade_search() -> dict[str, Any]:
    """The saved search of every trade leg, newest first."""
    source = {
        "query": {"query": "", "language": "kuery"},
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    attributes = {
        "title": "Trades",
        "description": "Every trade leg, newest first",
        "columns": [
            "symbol",
            "interval",
            "strategy",
            "source",
            "trade.leg",
            "trade.side",
            "trade.quantity",
            "trade.price",
            "trade.fees",
            "trade.pnl",
            "trade.pnl_pct",
            "trade.exit_reason",
        ],
        "sort": [["@timestamp", "desc"]],
        "grid": {},
        "hideChart": True,
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source, sort_keys=True)},
    }
    refs = [
        {
            "name": "kibanaSavedObjectMeta.searchSourceJSON.index",
            "type": "index-pattern",
            "id": DATA_VIEW_IDS["trades"],
        }
    ]
    return saved_object("search", "cryptoflow-search-trades", attributes, refs)
