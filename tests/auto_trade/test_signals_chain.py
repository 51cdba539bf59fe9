"""Two ``cryptoflow signals`` processes on the real local Kafka, three strategies between them (one computing
its own indicators after a REST warm-up from the fake exchange), the candles of five symbols produced to
the candles topic as ``cryptoflow indicators`` publishes them; one worker is killed (SIGKILL) mid-run.
The survivor takes its symbols over with their virtual positions, and every signal each strategy's own
``close``-model backtest finds appears on the signals topic, under its id, and nothing else does."""

from __future__ import annotations

import json
import re
import signal
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from auto_trade import StrategyRun
from cryptoflow.config import Settings
from cryptoflow.events import CandleEvent, SignalEvent, decode
from cryptoflow.kafka import EventProducer, ensure_topics, topic_name
from cryptoflow.stack import Supervisor
from cryptoflow.strategies import load_strategy
from cryptoflow.testing.fake_binance import replay_exchange
from cryptoflow.testing.services import (
    REPO,
    committed_to_end,
    group_ready,
    prefix_env,
    read_topic,
    wait_until,
)
from tests._trading import HISTORY, STRATEGIES
from tests.auto_trade._signals import CUSTOM, candle_events, expected_signals

pytestmark = pytest.mark.integration

SYMBOLS = ("BNBUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")
LIVE, KILL_AFTER = 150, 60
RUNS = [
    StrategyRun("sig-stops", load_strategy("basic", **STRATEGIES["stops"])),
    StrategyRun("sig-custom", load_strategy("custom", **CUSTOM)),
    StrategyRun("sig-rsi10", load_strategy("basic", rsi_period=10, **STRATEGIES["stops"])),
]


def _arguments(state_dir: Path) -> list[str]:
    specs = ["-s", "basic@sig-stops", "-s", "custom@sig-custom", "-s", "basic@sig-rsi10"]
    params = [f"sig-stops.{k}={v}" for k, v in STRATEGIES["stops"].items()]
    params += [f"sig-custom.{k}={v}" for k, v in CUSTOM.items()]
    params += [f"sig-rsi10.{k}={v}" for k, v in {**STRATEGIES["stops"], "rsi_period": 10}.items()]
    return [
        "signals", *specs, *(arg for p in params for arg in ("-p", p)), "--symbols", ",".join(SYMBOLS),
        "--interval", "5m", "--candles-run-id", "realtime", "--state-dir", str(state_dir),
        # the whole history before a symbol's first candle: the own indicators are the backtest's
        "--warmup", "1000",
    ]  # fmt: skip


def _activated(log: str) -> list[str]:
    return re.findall(r" (\w+): deciding it for 3 strategies \(partition", log)


def _decided_up_to(state_dir: Path, symbols: list[str], open_time: int) -> bool:
    for run in RUNS:
        for symbol in symbols:
            path = state_dir / f"{run.run_id}.{symbol}.signals.json"
            try:
                last = json.loads(path.read_text())["last_decided"]
            except (FileNotFoundError, json.JSONDecodeError):
                return False
            if last is None or last < open_time:
                return False
    return True


def test_two_workers_three_strategies_one_killed_every_signal_once(
    pipeline: Settings, shared_data: Path, tmp_path: Path
) -> None:
    # the fake exchange only answers the REST warm-up: every candle is in its past
    exchange = replay_exchange(shared_data, symbols=SYMBOLS, history=HISTORY + LIVE, limit=1)
    state_dir = tmp_path / "state"
    env = {**prefix_env(pipeline.kafka.topic_prefix), **exchange.client_environment()}
    procs = Supervisor(tmp_path, env=env, cwd=REPO)
    wait = partial(wait_until, watching=procs)
    kafka = pipeline.kafka
    ensure_topics(kafka, [topic_name(kafka, kind) for kind in ("candles", "signals")])
    events = {symbol: candle_events(shared_data, symbol, live=LIVE) for symbol in SYMBOLS}
    rounds = [[events[s][i] for s in SYMBOLS] for i in range(LIVE)]
    group = f"{kafka.topic_prefix}.signals.sig-custom+sig-rsi10+sig-stops"
    try:
        for name in ("worker-1", "worker-2"):
            procs.start(name, *_arguments(state_dir))
        wait(lambda: group_ready(pipeline, group, 2), 90, "both workers to share the partitions")
        with EventProducer(kafka) as producer:
            # a new group starts at the end of each partition, found when a member starts fetching:
            # candles of another run (skipped, their offsets committed) until every partition has a
            # position, so that no candle of the test is produced before it
            primers = [
                CandleEvent.of_candle(e.to_candle(), {}, source="live", run_id="primer") for e in rounds[0]
            ]

            sent: list[int] = []

            def positioned() -> bool:
                if sent and committed_to_end(pipeline, group, kinds=("candles",)):
                    return True
                sent.append(len(primers))
                for event in primers:
                    producer.send(event)
                producer.flush()
                return False

            wait(positioned, 60, "the group's position on every partition", every_s=2.0)
            for candles in rounds[:KILL_AFTER]:
                for event in candles:
                    producer.send(event)
            producer.flush()
            wait(
                lambda: all(_activated(procs.log(n)) for n in ("worker-1", "worker-2")),
                60,
                "both workers to take symbols on",
            )
            victim = max(("worker-1", "worker-2"), key=lambda name: len(_activated(procs.log(name))))
            survivor = "worker-2" if victim == "worker-1" else "worker-1"
            held = _activated(procs.log(victim))
            halfway = rounds[KILL_AFTER // 2][0].time_ms
            wait(lambda: _decided_up_to(state_dir, held, halfway), 60, "the victim to decide half")
            killed = procs.kill(victim)[victim]  # mid-backlog: no goodbye, no commit
            for candles in rounds[KILL_AFTER:]:
                for event in candles:
                    producer.send(event)
            producer.flush()
        last = rounds[-1][0].time_ms
        wait(lambda: _decided_up_to(state_dir, list(SYMBOLS), last), 120, "the survivor to decide the rest")
        assert procs.stop(survivor, timeout_s=60) == {survivor: 0}, procs.logs()
    finally:
        procs.kill()
        exchange.stop_thread()
    assert killed == -signal.SIGKILL

    messages = read_topic(pipeline, "signals", timeout_s=60)
    published = [decode(m.value()) for m in messages]
    assert all(isinstance(e, SignalEvent) for e in published)
    assert all(m.key() == f"{e.symbol}|5m".encode() for m, e in zip(messages, published, strict=True))
    want = {
        (run.run_id, symbol, *signal)
        for run in RUNS
        for symbol in SYMBOLS
        for signal in expected_signals(shared_data, symbol, run, live=LIVE)
    }
    got = {
        e.event_id: (e.run_id, e.symbol, e.signal.candle_open_time_ms, e.signal.action, e.signal.reason)
        for e in published
    }
    assert sorted(got.values()) == sorted(w[:5] for w in want)  # every expected signal, nothing else
    assert len(want) >= 30
    # a signal published twice (the victim died after sending it, before recording it) is the same event
    copies = Counter(e.event_id for e in published)
    bodies = {
        e.event_id: {m.value() for m in messages if decode(m.value()).event_id == e.event_id}
        for e in published
        if copies[e.event_id] > 1
    }
    assert all(len(same) == 1 for same in bodies.values()), bodies
    assert sum(copies.values()) - len(copies) <= len(held) * len(RUNS)
    # the survivor decided the victim's symbols after it died, from their saved virtual positions
    assert set(held) <= set(_activated(procs.log(survivor)))
