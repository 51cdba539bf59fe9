"""Live intrabar latency: a kline message arriving -> its ``indicator`` event acknowledged by Kafka.

    python -m benchmarks.live [--json OUT] [--symbols 50] [--seconds 60] [--cadence 2.0]

The fake exchange streams ``--symbols`` symbols (the five real 2025-08 5m files, repeated under new
names) at Binance's cadence (one kline update per symbol every ``--cadence`` seconds); the realtime
indicator engine computes provisional indicators for every update and publishes them to the local
Kafka (``cryptoflow stack up``). Reported: p50/p99 latency from the message being taken off the
websocket to Kafka's acknowledgement, memory per symbol (indicator state, tracemalloc) and resident
memory growth over the run (after the first quarter, least squares).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from cryptoflow.candles import load_candles
from cryptoflow.config import load_settings
from cryptoflow.events import encode
from cryptoflow.exchange import FakeExchange, ReplayMarket
from cryptoflow.kafka import TOPIC_KINDS, EventProducer, ensure_topics, topic_name
from cryptoflow.marketdata import BinanceEndpoints, SourceOptions
from realtime_indicator import IntrabarIndicators, RealtimeOptions, run_realtime

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BASES = ("ETHUSDT", "BTCUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT")
UPDATES_PER_CANDLE = 3


class _AckClock(EventProducer):
    """The project's producer, recording the latency of each acknowledged indicator event."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.latencies_ns: list[int] = []
        self.pending_ns: dict[bytes, int] = {}  # encoded event -> arrival of its kline message

    def _on_delivery(self, error: Any, message: Any) -> None:
        super()._on_delivery(error, message)
        received = self.pending_ns.pop(message.value(), None)
        if error is None and received is not None:
            self.latencies_ns.append(time.perf_counter_ns() - received)


def _rss_kb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024


def _market(symbols: int, history: int) -> ReplayMarket:
    frames = {}
    for i in range(symbols):
        base = BASES[i % len(BASES)]
        frame = load_candles(DATA / f"{base}_5m_2025-08.csv")
        frames[f"{base[:-4]}{i:02d}USDT"] = frame
    return ReplayMarket(frames, "5m", history=history, updates_per_candle=UPDATES_PER_CANDLE)


def _state_kb_per_symbol(symbols: int, history: int) -> float:
    """Indicator state of ``symbols`` symbols after warm-up, measured with tracemalloc."""
    frame = load_candles(DATA / "ETHUSDT_5m_2025-08.csv").iloc[:history]
    rows = [
        dict(open=o, high=h, low=lo, close=c)
        for o, h, lo, c in frame[["open", "high", "low", "close"]].to_numpy()
    ]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    engine = IntrabarIndicators(RealtimeOptions([f"S{i}" for i in range(symbols)], "5m", "m"), lambda e: None)
    for stream in engine.streams.values():
        for row in rows:
            stream.update(row)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return size / 1024 / symbols


def run(symbols: int, seconds: float, cadence: float) -> dict[str, Any]:
    settings = load_settings()
    prefix = f"bench-live-{uuid.uuid4().hex[:8]}"
    kafka = settings.kafka.model_copy(update={"topic_prefix": prefix})
    history = 300
    market = _market(symbols, history)
    speed = 1.0 / (cadence * (UPDATES_PER_CANDLE + 1))  # candles per second
    exchange = FakeExchange(market, speed=speed, autostart=True)
    producer = _AckClock(kafka, linger_ms=0)
    ensure_topics(kafka, [topic_name(kafka, kind) for kind in TOPIC_KINDS])  # not on the timed path
    rss: list[tuple[float, float]] = []
    counts = {"updates": 0}

    def emit_factory():
        current: dict[str, int] = {}

        def emit(event: Any) -> None:
            value = encode(event)
            if event.schema_name == "indicator" and current["measure"]:
                producer.pending_ns[value] = current["ns"]
            producer.send_raw(producer.topic_for(event), value, key=event.key)

        return emit, current

    emit, current = emit_factory()

    async def main() -> None:
        await exchange.start()
        options = RealtimeOptions(
            market.symbols, "5m", prefix, source_name="live", source=SourceOptions(warmup_candles=history)
        )
        start = time.monotonic()

        def on_event(event: Any) -> None:
            if event.kind == "live" and not event.candle.is_closed:
                counts["updates"] += 1
            now = time.monotonic()
            if not rss or now - rss[-1][0] >= 1.0:
                rss.append((now, _rss_kb()))

        async def stop_later() -> None:
            await asyncio.sleep(seconds)
            task.cancel()

        # the engine needs the arrival time of the message being handled: wrap the source events
        import realtime_indicator._stream as stream_module

        original = stream_module.IntrabarIndicators.on_event

        warmed: set[str] = set()

        def timed(self: Any, event: Any) -> None:
            # latency is measured in steady state: after every symbol's REST warm-up and the first two
            # rounds of updates (which also wait for the producer's first metadata of the topic)
            if event.kind == "warmup":
                warmed.add(event.candle.symbol)
            elif len(warmed) == len(market.symbols):
                counts["after_warmup"] = counts.get("after_warmup", 0) + 1
            current["ns"] = event.received_ns
            current["measure"] = int(counts.get("after_warmup", 0) > 2 * len(market.symbols))
            original(self, event)

        stream_module.IntrabarIndicators.on_event = timed  # type: ignore[method-assign]
        task = asyncio.create_task(
            run_realtime(
                options,
                emit,
                endpoints=BinanceEndpoints(exchange.base_url, exchange.stream_url),
                on_event=on_event,
            )
        )
        stopper = asyncio.create_task(stop_later())

        async def serve_reports() -> None:  # acks are timed when their delivery report is served
            while True:
                producer.poll(0)
                await asyncio.sleep(0.001)

        reporter = asyncio.create_task(serve_reports())
        try:
            await task
        except asyncio.CancelledError:
            pass
        finally:
            stream_module.IntrabarIndicators.on_event = original  # type: ignore[method-assign]
            stopper.cancel()
            reporter.cancel()
            await exchange.stop()
        del start

    asyncio.run(main())
    producer.flush(30)
    from confluent_kafka.admin import AdminClient

    from cryptoflow.kafka import client_config

    admin = AdminClient(client_config(kafka))
    topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix + ".")]
    if topics:
        for future in admin.delete_topics(topics).values():
            future.result()
    lat = np.asarray(producer.latencies_ns, dtype=float) / 1e6
    times = np.asarray([t for t, _ in rss])
    values = np.asarray([v for _, v in rss])
    keep = times >= times[0] + (times[-1] - times[0]) / 4 if len(times) else times
    growth = float(np.polyfit(times[keep] / 60.0, values[keep], 1)[0]) if keep.sum() >= 3 else float("nan")
    return {
        "benchmark": "live",
        "symbols": symbols,
        "seconds": seconds,
        "cadence_s": cadence,
        "updates": counts["updates"],
        "acknowledged": int(len(lat)),
        "delivered": producer.delivered,
        "unmatched": len(producer.pending_ns),
        "p50_ms": round(float(np.percentile(lat, 50)), 3) if len(lat) else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 3) if len(lat) else None,
        "max_ms": round(float(lat.max()), 3) if len(lat) else None,
        "memory_per_symbol_kb": round(_state_kb_per_symbol(symbols, history), 2),
        "memory_growth_kb_per_min": round(growth, 1),
        "rss_mb_end": round(float(values[-1]) / 1024, 1) if len(values) else None,
        "targets": {"p99_ms": 20},
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--cadence", type=float, default=2.0, help="seconds between updates of one symbol")
    args = parser.parse_args(argv)
    result = run(args.symbols, args.seconds, args.cadence)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
