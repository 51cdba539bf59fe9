"""The whole live chain on the real local stack, every part a real process:

fake exchange (five real 2025-08 files) -> ``cryptoflow indicators`` -> Kafka -> two ``cryptoflow trade
--from-kafka`` workers in one consumer group (paper broker) -> Kafka -> ``cryptoflow sink`` -> Elasticsearch,
with the websocket dropped mid-run and then one worker killed (SIGKILL): the other takes its symbols over,
with their positions, and trades the backlog.
"""

from __future__ import annotations

import signal
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from cryptoflow.brokers import TradingConfig
from cryptoflow.config import Settings
from cryptoflow.events import decode
from cryptoflow.strategies import load_strategy
from cryptoflow.testing.fake_binance import replay_exchange
from cryptoflow.testing.services import es_docs, prefix_env, read_topic, wait_until
from tests._trading import HISTORY, STRATEGIES, backtest_trades
from tests.auto_trade._chain import (
    activated,
    chain_processes,
    closed_trades,
    round_trips,
    start_chain,
    stop_chain,
)

pytestmark = pytest.mark.integration

SYMBOLS = ("BNBUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")
LIVE, DROP_AFTER, KILL_AFTER = 120, 40, 70
MARKET_RUN, TRADE_RUN = "chain-market", "chain-trade"
PARAMS = STRATEGIES["stops"]


def _by_run(run_id: str) -> dict:
    return {"term": {"run_id": run_id}}


def test_five_symbols_through_the_whole_chain_on_the_real_stack(
    pipeline: Settings, shared_data: Path, tmp_path: Path
) -> None:
    exchange = replay_exchange(shared_data, symbols=SYMBOLS, history=HISTORY, limit=LIVE, speed=8)
    env = {**prefix_env(pipeline.kafka.topic_prefix), **exchange.client_environment()}
    procs = chain_processes(tmp_path, env)
    wait = partial(wait_until, watching=procs)

    try:
        start_chain(
            procs, pipeline, exchange, symbols=SYMBOLS, params=PARAMS, market_run=MARKET_RUN,
            trade_run=TRADE_RUN, state_dir=tmp_path / "state",
        )  # fmt: skip
        exchange.start_replay()

        wait(lambda: exchange.market.cursor >= HISTORY + DROP_AFTER, 60, "the replay to progress")
        exchange.drop_connections()  # a network failure mid-run: reconnect and backfill
        wait(lambda: exchange.market.cursor >= HISTORY + KILL_AFTER, 60, "the replay to progress")
        victim = max(("worker-1", "worker-2"), key=lambda name: len(activated(procs.log(name))))
        survivor = "worker-2" if victim == "worker-1" else "worker-1"
        held_by_victim = activated(procs.log(victim))
        killed = procs.kill(victim)[victim]  # no goodbye: the group notices after the session timeout
        wait(lambda: exchange.market.finished, 90, "the replay to end")

        expected = LIVE * len(SYMBOLS)
        market = {"bool": {"filter": [_by_run(MARKET_RUN), {"term": {"source": "live"}}]}}
        traded = {"bool": {"filter": [_by_run(TRADE_RUN), {"term": {"source": "paper"}}]}}
        wait(lambda: len(es_docs(pipeline, "candles", market)) == expected, 90, "the market candles")
        wait(lambda: len(es_docs(pipeline, "candles", traded)) == expected, 90, "the traded candles")
        stop_chain(procs, pipeline, "indicators", survivor)
    finally:
        procs.kill()
        exchange.stop_thread()
    assert killed == -signal.SIGKILL

    # every closed candle was published once (no duplicate after the reconnect) and indexed once
    grid = [int(t) for t in exchange.market.grid[HISTORY : HISTORY + LIVE]]
    published = [decode(m.value()) for m in read_topic(pipeline, "candles", timeout_s=60)]
    live = Counter((e.symbol, e.time_ms) for e in published if e.run_id == MARKET_RUN)
    assert live == Counter({(s, t): 1 for s in SYMBOLS for t in grid})
    assert "reconnecting" in procs.log("indicators")
    for run_id in (MARKET_RUN, TRADE_RUN):
        docs = es_docs(pipeline, "candles", {"bool": {"filter": [_by_run(run_id)]}}).values()
        assert sorted((d["symbol"], d["time_ms"]) for d in docs) == sorted(
            (s, t) for s in SYMBOLS for t in grid
        )
    # intrabar indicator documents for every symbol, each of a candle of the replay
    intrabar = es_docs(pipeline, "indicators", {"bool": {"filter": [_by_run(MARKET_RUN)]}}).values()
    assert set(Counter(d["symbol"] for d in intrabar)) == set(SYMBOLS)
    assert {d["indicator"]["open_time_ms"] for d in intrabar} <= set(grid)
    assert all(d["indicator"]["provisional"] for d in intrabar)

    # the two workers together traded exactly what the backtester finds, symbol by symbol
    strategy = load_strategy("basic", **PARAMS)
    trades = list(es_docs(pipeline, "trades", {"bool": {"filter": [_by_run(TRADE_RUN)]}}).values())
    total = 0
    for symbol in SYMBOLS:
        want = round_trips(
            backtest_trades(shared_data, symbol, strategy, TradingConfig(), live=LIVE, symbols=len(SYMBOLS))
        )
        got = closed_trades(trades, symbol)
        assert [g[:4] for g in got] == [w[:4] for w in want], symbol
        assert [g[4] for g in got] == pytest.approx([w[4] for w in want], rel=1e-9), symbol
        total += len(want)
    assert total >= 5
    # the survivor traded its own symbols, then took over the victim's (with their open positions)
    assert held_by_victim and set(held_by_victim) <= set(SYMBOLS)
    assert sorted(activated(procs.log(survivor))) == sorted(SYMBOLS)
    assert read_topic(pipeline, "dlq", timeout_s=5) == []  # nothing was refused on the way
