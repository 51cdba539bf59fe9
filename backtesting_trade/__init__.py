"""Replay of a backtest's candles and trades through Kafka into Elasticsearch.

``cryptoflow replay`` (or ``python -m backtesting_trade``) runs a backtest with the same options as
``cryptoflow backtest`` and publishes its candles (with indicators) and trades as events with
``source=backtest`` and a run id; ``cryptoflow sink`` indexes them. Event ids are deterministic and the
default run id is derived from the backtest's inputs, so replaying the same run twice leaves the same
documents in Elasticsearch.

Example::

    from backtesting import run_backtest
    from backtesting_trade import replay
    from cryptoflow.kafka import EventProducer

    result = run_backtest(candles, "custom")
    with EventProducer(settings.kafka) as producer:
        published = replay(result, producer)
    print(published.run_id, published.topics)
"""

from backtesting_trade._events import (
    BacktestRun,
    EncodedBatch,
    SymbolRun,
    backtest_events,
    count_events,
    default_run_id,
    encoded_events,
    result_interval,
)
from backtesting_trade._replay import ReplayProgress, ReplayResult, replay

__all__ = [
    "BacktestRun",
    "EncodedBatch",
    "ReplayProgress",
    "ReplayResult",
    "SymbolRun",
    "backtest_events",
    "count_events",
    "default_run_id",
    "encoded_events",
    "replay",
    "result_interval",
]
