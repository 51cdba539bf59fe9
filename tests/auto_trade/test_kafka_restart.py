"""The Kafka broker killed with ``kill -9`` mid-stream and started again, under the whole live chain:

fake exchange -> ``cryptoflow indicators`` -> Kafka -> two ``cryptoflow trade --from-kafka`` workers ->
Kafka -> ``cryptoflow sink`` -> Elasticsearch, every part a real process pointed at a broker of the test's
own (``own_kafka``; the shared broker is never touched). Nobody restarts a process: each recovers by
itself, and Elasticsearch ends up with every event exactly once.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from cryptoflow.brokers import TradingConfig
from cryptoflow.config import Settings, load_settings
from cryptoflow.kafka import EventProducer
from cryptoflow.stack import KafkaService, LocalStack
from cryptoflow.strategies import load_strategy
from cryptoflow.testing.events import candle_events
from cryptoflow.testing.fake_binance import replay_exchange
from cryptoflow.testing.services import cleanup, es_count, es_docs, prefix_env, wait_until
from tests._trading import HISTORY, STRATEGIES, backtest_trades
from tests.auto_trade._chain import chain_processes, closed_trades, round_trips, start_chain, stop_chain

pytestmark = pytest.mark.integration

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
LIVE, KILL_AFTER, SPEED = 150, 30, 1.0  # candles, candles, candles per second
# longer than a worker used to wait for its events before recording a decision (60 s): a broker restarting
# after kill -9 recovers its logs first, which can take minutes. (A producer also used to drop a message
# after 120 s; it now never times one out: delivery.timeout.ms 0 in EventProducer.)
OUTAGE_S = 65.0
MARKET_RUN, TRADE_RUN = "restart-market", "restart-trade"
PARAMS = STRATEGIES["stops"]


def _kill_9(broker: KafkaService) -> None:
    process = broker.process()
    assert process is not None, "the test's broker is not running"
    os.kill(process.pid, signal.SIGKILL)
    try:
        os.waitpid(process.pid, 0)  # started by this process (own_kafka): reap it
    except ChildProcessError:
        pass  # reaped already by the subprocess module's clean-up of forgotten Popen objects


def _by_run(run_id: str, source: str) -> dict:
    return {"bool": {"filter": [{"term": {"run_id": run_id}}, {"term": {"source": source}}]}}


@pytest.fixture
def settings(local_stack: LocalStack, own_kafka: KafkaService, unique_name: str) -> Iterator[Settings]:
    """The test's own prefixes, on the test's own broker; its indices are removed afterwards."""
    settings = load_settings(
        kafka={"topic_prefix": unique_name, "bootstrap_servers": own_kafka.bootstrap},
        elasticsearch={"index_prefix": unique_name},
    )
    yield settings
    cleanup(settings)


@pytest.mark.timeout(600)  # HISTORY + LIVE candles with an OUTAGE_S outage: over the suite's 240 s
def test_kafka_killed_and_restarted_mid_stream_every_process_recovers_by_itself(
    settings: Settings, own_kafka: KafkaService, unique_name: str, shared_data: Path, tmp_path: Path
) -> None:
    exchange = replay_exchange(shared_data, symbols=SYMBOLS, history=HISTORY, limit=LIVE, speed=SPEED)
    env = {
        **prefix_env(unique_name),
        "CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS": own_kafka.bootstrap,
        **exchange.client_environment(),
    }
    procs = chain_processes(tmp_path, env)
    wait = partial(wait_until, watching=procs)
    probes = candle_events(100, run_id="probe")
    try:
        start_chain(
            procs, settings, exchange, symbols=SYMBOLS, params=PARAMS, market_run=MARKET_RUN,
            trade_run=TRADE_RUN, state_dir=tmp_path / "state", sink_args=("--log-interval", "5"),
        )  # fmt: skip
        exchange.start_replay()
        wait(lambda: exchange.market.cursor >= HISTORY + KILL_AFTER, 60, "the replay to progress")
        wait(lambda: es_count(settings, "candles") > 0, 60, "the first candles in Elasticsearch")

        # a producer of this process, waiting for its events as a worker waits before recording a decision
        producer = EventProducer(settings.kafka)
        producer.send(probes[0])
        producer.flush()
        _kill_9(own_kafka)  # mid-stream: the replay goes on while the broker is gone
        killed_at = exchange.market.cursor
        producer.send_many(probes[1:])
        # daemon: a failed test must not hang the run
        waiting = threading.Thread(target=producer.flush, args=(None,), daemon=True)
        waiting.start()
        time.sleep(OUTAGE_S)
        assert not procs.exited(), procs.logs()
        assert waiting.is_alive()
        own_kafka.start()  # same storage: topics, offsets and the groups' commits survive
        own_kafka.wait_ready(120)
        restarted_at = exchange.market.cursor
        waiting.join(timeout=120)
        assert not waiting.is_alive() and producer.delivered == len(probes)
        wait(lambda: exchange.market.finished, LIVE / SPEED, "the replay to end")

        count = LIVE * len(SYMBOLS)
        for run_id, source in ((MARKET_RUN, "live"), (TRADE_RUN, "paper")):
            query = _by_run(run_id, source)
            wait(
                lambda q=query: len(es_docs(settings, "candles", q)) == count,
                120,
                f"{count} {source} candles of {run_id} in Elasticsearch",
            )
        intrabar = count * exchange.market.updates_per_candle
        wait(lambda: es_count(settings, "indicators") == intrabar, 120, f"{intrabar} intrabar updates")
        assert not procs.exited(), procs.logs()  # nobody exited, nobody was restarted
        stop_chain(procs, settings, "indicators", "worker-1", "worker-2")
    finally:
        procs.kill()
        exchange.stop_thread()
    assert HISTORY + KILL_AFTER <= killed_at < restarted_at < HISTORY + LIVE, "not mid-stream"

    # exactly once in Elasticsearch: every candle of the grid, every intrabar update, once each
    grid = [int(t) for t in exchange.market.grid[HISTORY : HISTORY + LIVE]]
    want = sorted((s, t) for s in SYMBOLS for t in grid)
    for run_id, source in ((MARKET_RUN, "live"), (TRADE_RUN, "paper")):
        docs = es_docs(settings, "candles", _by_run(run_id, source)).values()
        assert sorted((d["symbol"], d["time_ms"]) for d in docs) == want
    probed = es_docs(settings, "candles", {"term": {"run_id": "probe"}})
    assert set(probed) == {e.event_id for e in probes}
    assert es_count(settings, "candles") == 2 * len(want) + len(probes)
    updates = es_docs(settings, "indicators").values()
    assert sorted({(d["symbol"], d["indicator"]["open_time_ms"]) for d in updates}) == want
    assert len(updates) == len(want) * exchange.market.updates_per_candle

    # the workers traded what the backtester finds: no decision lost or taken twice over the outage
    strategy = load_strategy("basic", **PARAMS)
    trades = list(es_docs(settings, "trades").values())
    for symbol in SYMBOLS:
        want_trades = round_trips(
            backtest_trades(shared_data, symbol, strategy, TradingConfig(), live=LIVE, symbols=len(SYMBOLS))
        )
        got = closed_trades(trades, symbol)
        assert [g[:4] for g in got] == [w[:4] for w in want_trades], symbol
    assert len(trades) == len({(t["symbol"], t["trade"]["leg"], t["trade"]["entry_time_ms"]) for t in trades})
    for name in procs.processes:
        assert "Traceback" not in procs.log(name), procs.log(name)[-3000:]
