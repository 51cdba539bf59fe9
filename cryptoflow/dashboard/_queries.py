"""What the dashboard page shows, read from the sink's indices (``<prefix>-candles`` …).

Each function returns plain JSON-able data for one view; filters are exact matches on the envelope's
keyword fields. A missing index (nothing indexed yet) reads as empty, not as an error.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from cryptoflow.config import ElasticsearchSettings
from cryptoflow.elastic import INDEX_KINDS, index_alias
from cryptoflow.events import FILTER_FIELDS, INDICATOR_NAMES

__all__ = ["FILTER_FIELDS", "Filters", "filter_options", "market", "realtime", "trading"]


Filters = dict[str, str]

_MAX_CANDLES = 1000
_MAX_TRADES = 2000
_MAX_UPDATES = 600


def _query(filters: Filters, kind: str) -> dict[str, Any]:
    terms = []
    for name in FILTER_FIELDS:
        value = filters.get(name)
        # candles and intrabar updates have no strategy of their own: it filters signals and trades
        if value and not (name == "strategy" and kind in ("candles", "indicators")):
            terms.append({"term": {name: value}})
    return {"bool": {"filter": terms}} if terms else {"match_all": {}}


def _search(client: Elasticsearch, settings: ElasticsearchSettings, kind: str, **body: Any) -> dict[str, Any]:
    return client.search(
        index=index_alias(settings, kind), ignore_unavailable=True, allow_no_indices=True, **body
    ).body


def _sources(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [hit["_source"] for hit in answer["hits"]["hits"]]


def filter_options(client: Elasticsearch, settings: ElasticsearchSettings) -> dict[str, list[str]]:
    """The values each filter can take, from every index (``{"symbol": ["BTCUSDT", …], …}``)."""
    indices = ",".join(index_alias(settings, kind) for kind in INDEX_KINDS)
    aggs = {name: {"terms": {"field": name, "size": 200, "order": {"_key": "asc"}}} for name in FILTER_FIELDS}
    answer = client.search(
        index=indices, ignore_unavailable=True, allow_no_indices=True, size=0, aggs=aggs
    ).body
    found = answer.get("aggregations", {})
    return {
        name: [bucket["key"] for bucket in found.get(name, {}).get("buckets", [])] for name in FILTER_FIELDS
    }


def market(client: Elasticsearch, settings: ElasticsearchSettings, filters: Filters) -> dict[str, Any]:
    """The latest closed candles (oldest first) with their indicators, for one symbol and interval."""
    answer = _search(
        client,
        settings,
        "candles",
        query=_query(filters, "candles"),
        size=_MAX_CANDLES,
        sort=[{"time_ms": "desc"}],
    )
    rows = []
    for doc in reversed(_sources(answer)):
        candle = doc["candle"]
        indicators = candle.get("indicators") or {}
        rows.append(
            {
                "time": doc["@timestamp"],
                "symbol": doc["symbol"],
                "interval": doc["interval"],
                "open": candle["open"],
                "high": candle["high"],
                "low": candle["low"],
                "close": candle["close"],
                "volume": candle["volume"],
                **{name: indicators.get(name) for name in INDICATOR_NAMES},
            }
        )
    return {"candles": rows}


def trading(client: Elasticsearch, settings: ElasticsearchSettings, filters: Filters) -> dict[str, Any]:
    """Trades (newest first), cumulative PnL, win rate per side, PnL % per trade and open positions."""
    answer = _search(
        client,
        settings,
        "trades",
        query=_query(filters, "trades"),
        size=_MAX_TRADES,
        sort=[{"time_ms": "asc"}],
    )
    legs = _sources(answer)
    closed = [leg for leg in legs if leg["trade"]["leg"] == "close"]
    cumulative, total = [], 0.0
    for leg in closed:
        total += leg["trade"]["pnl"]
        cumulative.append({"time": leg["@timestamp"], "pnl": round(total, 8), "strategy": leg["strategy"]})
    win_rate = {}
    for side in ("long", "short"):
        trades = [leg for leg in closed if leg["trade"]["side"] == side]
        wins = sum(1 for leg in trades if leg["trade"]["pnl"] > 0)
        win_rate[side] = {"trades": len(trades), "wins": wins, "rate": wins / len(trades) if trades else None}

    def position(leg: dict[str, Any]) -> tuple[Any, ...]:
        return (
            leg["source"],
            leg["run_id"],
            leg["strategy"],
            leg["symbol"],
            leg["interval"],
            leg["trade"]["entry_time_ms"],
        )

    closed_keys = {position(leg) for leg in closed}
    open_positions = [
        {
            "symbol": leg["symbol"],
            "strategy": leg["strategy"],
            "source": leg["source"],
            "side": leg["trade"]["side"],
            "quantity": leg["trade"]["quantity"],
            "entry_price": leg["trade"]["entry_price"],
            "since": leg["@timestamp"],
        }
        for leg in legs
        if leg["trade"]["leg"] == "open" and position(leg) not in closed_keys
    ]
    table = [
        {
            "time": leg["@timestamp"],
            "symbol": leg["symbol"],
            "strategy": leg["strategy"],
            "source": leg["source"],
            "leg": leg["trade"]["leg"],
            "side": leg["trade"]["side"],
            "quantity": leg["trade"]["quantity"],
            "price": leg["trade"]["price"],
            "pnl": leg["trade"].get("pnl"),
            "pnl_pct": leg["trade"].get("pnl_pct"),
            "exit_reason": leg["trade"].get("exit_reason"),
        }
        for leg in reversed(legs[-200:])
    ]
    return {
        "trades": table,
        "cumulative_pnl": cumulative,
        "win_rate": win_rate,
        "pnl_pct": [leg["trade"]["pnl_pct"] for leg in closed if leg["trade"].get("pnl_pct") is not None],
        "open_positions": open_positions,
    }


def realtime(client: Elasticsearch, settings: ElasticsearchSettings, filters: Filters) -> dict[str, Any]:
    """The latest intrabar indicator values per symbol and the recent updates (oldest first)."""
    answer = _search(
        client,
        settings,
        "indicators",
        query=_query(filters, "indicators"),
        size=_MAX_UPDATES,
        sort=[{"time_ms": "desc"}],
    )
    updates: list[dict[str, Any]] = []
    latest: dict[str, dict[str, Any]] = {}
    for doc in _sources(answer):
        values = doc["indicator"]["values"]
        row = {
            "time": doc["@timestamp"],
            "symbol": doc["symbol"],
            "interval": doc["interval"],
            "close": doc["indicator"]["close"],
            "provisional": doc["indicator"].get("provisional", True),
            **{name: values.get(name) for name in ("rsi", "macd", "macd_signal", "macd_hist", "cci")},
        }
        updates.append(row)
        latest.setdefault(doc["symbol"], row)
    return {"latest": [latest[symbol] for symbol in sorted(latest)], "updates": list(reversed(updates))}
