"""What a run has put into Elasticsearch so far, counted per kind of event."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

__all__ = ["LiveCounts", "indexed_counts", "live_counts"]

log = logging.getLogger(__name__)


def _count(client: Elasticsearch, index: str, query: Mapping[str, Any]) -> int:
    try:
        return int(client.count(index=index, query=query)["count"])
    except NotFoundError:  # the index appears with the sink's first batch of that kind
        log.debug("%s does not exist yet: 0 documents", index)
        return 0


def indexed_counts(client: Elasticsearch, prefix: str, run_id: str, kinds: Iterable[str]) -> dict[str, int]:
    """Documents of ``run_id`` in ``<prefix>-<kind>`` for each kind (0 where the index is not there yet)."""
    query = {"term": {"run_id": run_id}}
    return {kind: _count(client, f"{prefix}-{kind}", query) for kind in kinds}


@dataclass(frozen=True)
class LiveCounts:
    """What a live run has indexed: candles, indicator updates, signals, closed trades and their PnL."""

    run_id: str
    candles: int
    indicators: int
    signals: int
    closed_trades: int
    pnl: float  # quote currency (USDT)

    def describe(self) -> str:
        """One line, as the demo's summary shows it."""
        return (
            f"live (paper) run {self.run_id}: candles {self.candles}, indicator updates {self.indicators}, "
            f"signals {self.signals}, closed trades {self.closed_trades}, PnL {self.pnl:.2f} USDT"
        )


def live_counts(client: Elasticsearch, prefix: str, run_id: str) -> LiveCounts:
    """Count what the live run ``run_id`` has put into the ``<prefix>-*`` indices so far."""
    counts = indexed_counts(client, prefix, run_id, ("candles", "indicators", "signals"))
    query = {"term": {"run_id": run_id}}
    try:
        closed = client.search(
            index=f"{prefix}-trades",
            size=0,
            query={"bool": {"filter": [query, {"term": {"trade.leg": "close"}}]}},
            aggs={"pnl": {"sum": {"field": "trade.pnl"}}},
        )
        trades, pnl = closed["hits"]["total"]["value"], closed["aggregations"]["pnl"]["value"] or 0.0
    except NotFoundError:  # no trade indexed yet
        log.debug("%s-trades does not exist yet: no closed trades", prefix)
        trades, pnl = 0, 0.0
    return LiveCounts(run_id, counts["candles"], counts["indicators"], counts["signals"], trades, pnl)
