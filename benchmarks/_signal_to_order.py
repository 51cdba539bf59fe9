"""Signal to order: a ``signal`` event produced -> the executor's order answered by the fake exchange.

A testnet bot following three strategies (``basic``, ``custom``, ``ensemble``, each with a stop-loss and a
take-profit, so every entry also places its two protective algo orders) on every symbol of the fake
exchange is run by an :class:`auto_trade.ExecuteWorker` (its consumer group on the signals topic of the
local Kafka, the broker :func:`auto_trade.bot_broker` makes, signed HTTP to the fake exchange). The
benchmark plays the strategy workers: per candle it produces one signal per (strategy, symbol), all at
once as a candle close does live, alternating entries (the first strategy in the bot's order owns the
symbol, the other two are skipped) and exits (the owner's closes the position). It observes the executor
only through its public hooks: the ``emit`` it is given sees each trade event, which the executor
publishes once the broker has the exchange's answer (the fill, and for an entry the protective orders
placed; for an exit the close filled and the protective orders cancelled). The latency of an order is
from its signal's ``produce`` to that trade event, both clocked in this process; a candle's orders are
placed one after another, so the last symbol's includes the orders before it, and every order waits the
executor's gather window (``gather_s``) first: ``signal_to_order_first_p50_ms`` (a candle's first order)
and ``signal_to_order_per_order_p50_ms`` (between two orders of a candle) split the latency so.

``executor_kb_per_symbol``: the Python memory (tracemalloc) an :class:`auto_trade.Executor` of such a bot
holds per open position (its book, the broker's position and protective orders, the signals handled),
measured apart from the timed run, on the same exchange.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any
from urllib import request

import numpy as np

from auto_trade import (
    ExecuteOptions,
    ExecuteWorker,
    Executor,
    bot_broker,
    executor_state_path,
    signal_order_id,
)
from cryptoflow.config import KafkaSettings, Settings, load_settings
from cryptoflow.events import Event, SignalEvent, SignalPayload, TradeEvent
from cryptoflow.kafka import EventProducer, ensure_topics, topic_name
from cryptoflow.portfolio import Bot, load_bot
from cryptoflow.testing.fake_binance import API_KEY, API_SECRET

__all__ = ["signal_to_order"]

STRATEGIES = ("basic", "custom", "ensemble")
FIVE_MIN = 300_000


def _bot_file(folder: Path, name: str, symbols: list[str]) -> Bot:
    share = round(1 / len(STRATEGIES) - 0.0005, 3)
    strategies = "".join(
        f'\n[[strategies]]\nstrategy = "{s}"\nrun_id = "sig-{s}"\nfraction = {share}\n'
        "params = { stop_loss_pct = 5.0, take_profit_pct = 10.0 }\n"
        for s in STRATEGIES
    )
    path = folder / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\ninterval = "5m"\nsymbols = {json.dumps(symbols)}\nbroker = "testnet"\n\n'
        f"[capital]\ntotal = 4000.0\nleverage = 5\n{strategies}",
        encoding="utf-8",
    )
    return load_bot(path)


def _prices(base_url: str) -> dict[str, float]:
    with request.urlopen(f"{base_url}/fapi/v1/ticker/price", timeout=10) as answer:  # noqa: S310 - loopback
        return {t["symbol"]: float(t["price"]) for t in json.loads(answer.read())}


def _signals(symbols: list[str], candle: int, entry: bool, prices: dict[str, float]) -> list[SignalEvent]:
    opened = candle * FIVE_MIN
    action = "entry_long" if entry else "exit_long"
    return [
        SignalEvent.create(
            source="live",
            run_id=f"sig-{strategy}",
            strategy=strategy,
            symbol=symbol,
            interval="5m",
            time_ms=opened + FIVE_MIN - 1,
            signal=SignalPayload(
                action=action,
                price=prices[symbol],
                candle_open_time_ms=opened,
                reason=None if entry else "signal",
            ),
        )  # fmt: skip
        for symbol in symbols
        for strategy in STRATEGIES
    ]


def _settings(kafka: KafkaSettings, base_url: str, stream_url: str) -> Settings:
    binance = {"base_url": base_url, "stream_url": stream_url, "api_key": API_KEY, "api_secret": API_SECRET}
    return load_settings(kafka=kafka.model_dump(), binance=binance)


class _Orders:
    """The trade events the executor emits, clocked, and the signals produced, clocked."""

    def __init__(self, producer: EventProducer) -> None:
        self.producer = producer
        self.produced: dict[str, float] = {}
        self.answered: dict[str, float] = {}
        self.changed = threading.Condition()

    def emit(self, event: Event) -> None:
        if isinstance(event, TradeEvent) and event.trade.client_order_id is not None:
            with self.changed:
                self.answered[event.trade.client_order_id] = time.perf_counter()
                self.changed.notify_all()
        self.producer.send(event)

    def wait(self, order_ids: set[str], count: int, timeout_s: float = 120.0) -> list[str]:
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while len(done := [o for o in order_ids if o in self.answered]) < count:
                if not self.changed.wait(max(0.0, deadline - time.monotonic())):
                    raise RuntimeError(f"{len(done)} of {count} orders answered in {timeout_s:.0f} s")
        return done


def signal_to_order(
    kafka: KafkaSettings,
    base_url: str,
    stream_url: str,
    symbols: list[str],
    *,
    rounds: int = 10,
    gather_s: float = 0.05,
) -> dict[str, Any]:
    """Run ``rounds`` entry candles and as many exit candles (after one untimed pair) and return the
    latency percentiles, the counts and the executor's memory per symbol."""
    settings = _settings(kafka, base_url, stream_url)
    folder = Path(tempfile.mkdtemp(prefix="bench-signal-to-order-"))
    bot = _bot_file(folder, "bench-latency", symbols)
    ensure_topics(kafka, [topic_name(kafka, k) for k in ("signals", "trades", "dlq")])
    producer = EventProducer(kafka, linger_ms=0)
    orders = _Orders(producer)
    broker = bot_broker(bot, folder, settings, lambda trade: worker.executor.on_exchange_close(trade))
    options = ExecuteOptions(folder, from_beginning=True, gather_s=gather_s)
    worker = ExecuteWorker(bot, kafka, broker, orders.emit, producer.flush, options)
    running = threading.Thread(target=asyncio.run, args=(worker.run(),), name="executor", daemon=True)
    running.start()
    latencies: list[float] = []
    firsts: list[float] = []  # per candle: its first order's latency (what every order waits)
    steps: list[float] = []  # per candle: the time between two of its orders (one after another)
    try:
        for candle in range(2 * (rounds + 1)):
            signals = _signals(symbols, candle, candle % 2 == 0, _prices(base_url))
            ids = {signal_order_id(bot.name, s.event_id) for s in signals}
            for signal in signals:
                orders.produced[signal_order_id(bot.name, signal.event_id)] = time.perf_counter()
                producer.send(signal)
            producer.flush()
            done = orders.wait(ids, len(symbols))  # one order per symbol: the owner's
            if candle >= 2:  # the first pair warms up: the group's join, the connections
                these = sorted((orders.answered[o] - orders.produced[o]) * 1000 for o in done)
                latencies += these
                firsts.append(these[0])
                steps.append((these[-1] - these[0]) / max(len(these) - 1, 1))
    finally:
        worker.stop()
        running.join(timeout=60)
        producer.close()
    try:
        memory = asyncio.run(_kb_per_symbol(settings, base_url, folder, symbols))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    values = np.array(latencies)
    return {
        "signal_to_order_p50_ms": round(float(np.percentile(values, 50)), 2),
        "signal_to_order_p99_ms": round(float(np.percentile(values, 99)), 2),
        "signal_to_order_max_ms": round(float(values.max()), 2),
        "signal_to_order_orders": len(latencies),
        "signal_to_order_first_p50_ms": round(float(np.median(firsts)), 2),
        "signal_to_order_per_order_p50_ms": round(float(np.median(steps)), 2),
        "signal_to_order_setup": {
            "symbols": len(symbols),
            "strategies": list(STRATEGIES),
            "signals_per_candle": len(symbols) * len(STRATEGIES),
            "orders_per_candle": len(symbols),
            "timed_candles": 2 * rounds,
            "gather_ms": gather_s * 1000,
            "broker": "testnet (fake exchange in a child process)",
        },
        "executor_kb_per_symbol": memory,
    }


async def _kb_per_symbol(settings: Settings, base_url: str, folder: Path, symbols: list[str]) -> float:
    """Traced memory an executor holds per open position: after its start, then after an entry on every
    symbol (the same exchange; the timed bot is flat by then)."""
    bot = _bot_file(folder, "bench-memory", symbols)
    opened = [0]  # a count, not the events: they are the trades topic's, not the executor's memory

    def emit(event: Event) -> None:
        if isinstance(event, TradeEvent) and event.trade.leg == "open":
            opened[0] += 1

    broker = bot_broker(bot, folder, settings)
    executor = Executor(bot, broker, executor_state_path(folder, bot), emit, lambda: None)
    await executor.start()
    signals = _signals(symbols, 10_000, True, _prices(base_url))
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for signal in signals:
            await executor.handle(signal)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    for signal in _signals(symbols, 10_001, False, _prices(base_url)):
        await executor.handle(signal)  # flat again
    await broker.stop()
    size = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return round(size / 1024 / max(opened[0], 1), 1)
