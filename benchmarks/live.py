"""Live intrabar latency and memory over a soak: a kline message arriving -> its ``indicator`` event
acknowledged by Kafka, and whether the client's resident memory stays flat.

    python -m benchmarks.live [--json OUT] [--symbols 50] [--cadence 2.0]
                              [--warmup-minutes 2] [--soak-minutes 3] [--sample-seconds 5]
                              [--also-symbols 500 ...] [--latency-minutes 1] [--trace-allocations N]
                              [--order-rounds 10]

The fake exchange streams ``--symbols`` symbols (the five real 2025-08 5m files, repeated under new
names) at Binance's cadence (one kline update per symbol every ``--cadence`` seconds). It runs in a child
process, so the memory measured is the client's alone: the kline source, the realtime indicator engine
and the Kafka producer publishing to the local Kafka (``cryptoflow stack up``). The exchange's own
resident memory is reported separately (``exchange_*``).

Reported:

- ``p50_ms`` / ``p99_ms``: from the message being taken off the websocket to Kafka's acknowledgement, in
  steady state (after every symbol's REST warm-up and two rounds of updates); kept in a fixed-size
  reservoir allocated up front, so recording them does not grow the process;
- ``stages``: p50/p99 of each step of that path (parse, indicators, encode, produce, ack; see
  ``stages_meaning``), so a slow p99 says where it comes from;
- ``p50_ms_500``, ``p99_ms_500``, ``stages_500``: the same latency from a second, shorter run at 500
  symbols (``--also-symbols``; none with ``--also-symbols`` given no value);
- ``memory_per_symbol_kb``: indicator state per symbol (tracemalloc, measured apart from the run);
- ``memory_growth_kb_per_min``: slope of a least-squares line through the client's resident memory
  (RSS), sampled every ``--sample-seconds`` over the soak only: the first ``--warmup-minutes``
  (allocator arenas, librdkafka buffers, caches filling; RSS still rises by tens of KB in the second
  minute) are excluded; use ``--soak-minutes 15`` or more for a verdict on a leak. ``rss_kb`` has a
  summary (after warm-up, end, min, max), the slope over the second half of the soak (a steady leak
  keeps its slope, growth that is levelling off does not) and the samples: seconds, RSS, the producer's
  queue length and the slowest acknowledgement since the previous sample (a Kafka stall or restart
  shows there, and librdkafka keeps the memory it buffered during one), and Python's allocated blocks
  (``sys.getallocatedblocks``: flat while RSS grows means the growth is native or allocator pages,
  not Python objects).

- ``signal_to_order_p50_ms`` / ``signal_to_order_p99_ms``: a ``signal`` event produced -> the
  executor's order answered by the fake exchange, for a testnet bot following 3 strategies on the
  ``--symbols`` symbols, over ``--order-rounds`` entry and as many exit candles (every symbol's signals
  of a candle at once, as a candle close brings them), and ``executor_kb_per_symbol``, the executor's
  memory per open position: see :mod:`benchmarks._signal_to_order`. ``--order-rounds 0`` skips them.

``--trace-allocations N`` starts tracemalloc when the warm-up ends and reports the N allocation sites
(with their callers) whose live memory grew most between a quarter of the soak and its end; tracing
costs memory of its own, so the RSS growth of such a run is not a measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import platform
import random
import sys
import time
import tracemalloc
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._output import emit_json
from benchmarks._signal_to_order import signal_to_order
from cryptoflow.binance import BinanceEndpoints, SourceOptions
from cryptoflow.candles import load_candles, shared_data_dir
from cryptoflow.config import load_settings
from cryptoflow.events import encode
from cryptoflow.kafka import TOPIC_KINDS, EventProducer, ensure_topics, topic_name
from cryptoflow.testing.fake_binance import FakeExchange, ReplayMarket
from realtime_indicator import IntrabarIndicators, RealtimeOptions, run_realtime

DATA = shared_data_dir()
BASES = ("ETHUSDT", "BTCUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT")
UPDATES_PER_CANDLE = 3
HISTORY = 300
LATENCY_RESERVOIR = 200_000  # 1.6 MB; at 25 updates/s the first 2 h are all kept


class _Reservoir:
    """A uniform random sample of at most ``capacity`` values (Algorithm R), in an array written once
    up front: its pages are resident before the soak starts, so sampling does not show as growth."""

    def __init__(self, capacity: int, seed: int = 0) -> None:
        self._values = np.full(capacity, np.nan)
        self._random = random.Random(seed)
        self.count = 0

    def add(self, value: float) -> None:
        capacity = len(self._values)
        if self.count < capacity:
            self._values[self.count] = value
        else:
            slot = self._random.randrange(self.count + 1)
            if slot < capacity:
                self._values[slot] = value
        self.count += 1

    def values(self) -> np.ndarray:
        return self._values[: min(self.count, len(self._values))]


STAGES = ("parse", "indicators", "encode", "produce", "ack")
STAGES_MEANING = (
    "where a measured update's time goes, each stage ending at a timestamp: parse, from the kline "
    "message taken off the websocket until the source hands it on (python-binance's JSON parse, our kline "
    "model); indicators, until the engine emits its event (indicator update, event model); encode, until "
    "its bytes are ready; produce, until send_raw returns; ack, until its delivery report is served"
)


class _AckClock:
    """The latency (ms) of each acknowledged indicator event, and of each of its :data:`STAGES`: the
    producer's delivery listener."""

    def __init__(self) -> None:
        self.latencies_ms = _Reservoir(LATENCY_RESERVOIR)
        self.stages_ms = {stage: _Reservoir(LATENCY_RESERVOIR, seed=i + 1) for i, stage in enumerate(STAGES)}
        # encoded event -> [arrival of its kline message, end of parse, indicators, encode, produce] of
        # each message with those bytes in flight, oldest first (an update repeating the last one's values
        # makes the same bytes; its report comes after the earlier one's: one partition, in order)
        self.pending_ns: dict[bytes, list[list[int]]] = {}
        self.interval_max_ms = 0.0  # the slowest acknowledgement since the last RSS sample
        self.unsplit = 0  # acknowledged updates whose report came before send_raw returned

    def on_delivery(self, error: Any, message: Any) -> None:
        value = message.value()
        waiting = self.pending_ns.get(value)
        marks = waiting.pop(0) if waiting else None
        if waiting == []:
            del self.pending_ns[value]
        if error is None and marks is not None:
            acked = time.perf_counter_ns()
            latency_ms = (acked - marks[0]) / 1e6
            self.latencies_ms.add(latency_ms)
            self.interval_max_ms = max(self.interval_max_ms, latency_ms)
            if not marks[4]:  # reported before send_raw returned: no stage split for this one
                self.unsplit += 1
                return
            ends = (*marks[1:], acked)
            for stage, start, end in zip(STAGES, marks, ends, strict=True):
                self.stages_ms[stage].add((end - start) / 1e6)

    def breakdown(self) -> dict[str, dict[str, float | None]]:
        """p50 and p99 (ms) of each stage."""
        out: dict[str, dict[str, float | None]] = {}
        for stage, reservoir in self.stages_ms.items():
            values = reservoir.values()
            out[stage] = {
                "p50_ms": round(float(np.percentile(values, 50)), 4) if len(values) else None,
                "p99_ms": round(float(np.percentile(values, 99)), 4) if len(values) else None,
            }
        return out


class _RssSeries:
    """Resident memory (KB) of this process and of the exchange's, with the producer's queue length and
    the slowest acknowledgement of each interval (a Kafka stall shows in both), in preallocated arrays."""

    def __init__(self, capacity: int, exchange_pid: int | None) -> None:
        self.exchange_pid = exchange_pid
        self.times_s = np.full(capacity, np.nan)
        self.client_kb = np.full(capacity, np.nan)
        self.exchange_kb = np.full(capacity, np.nan)
        self.queued = np.full(capacity, np.nan)
        self.max_ms = np.full(capacity, np.nan)
        self.python_blocks = np.full(capacity, np.nan)
        self.count = 0

    def sample(self, elapsed_s: float, producer: EventProducer, clock: _AckClock) -> None:
        if self.count >= len(self.times_s):
            return
        i = self.count
        self.times_s[i] = elapsed_s
        self.client_kb[i] = _rss_kb("self")
        self.exchange_kb[i] = _rss_kb(str(self.exchange_pid)) if self.exchange_pid else np.nan
        self.queued[i] = producer.pending()
        self.max_ms[i] = clock.interval_max_ms
        clock.interval_max_ms = 0.0
        self.python_blocks[i] = sys.getallocatedblocks()
        self.count += 1


def _rss_kb(pid: str) -> float:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024
    except (OSError, IndexError, ValueError):
        return math.nan


def _slope_kb_per_min(times_s: np.ndarray, values_kb: np.ndarray) -> float | None:
    ok = ~np.isnan(values_kb)
    if ok.sum() < 3:
        return None
    return round(float(np.polyfit(times_s[ok] / 60.0, values_kb[ok], 1)[0]), 1)


def _rss_report(
    times_s: np.ndarray, values_kb: np.ndarray, warmup_s: float, *extra: np.ndarray
) -> dict[str, Any]:
    """Growth (least squares over the samples after the warm-up, and over their second half) and the
    samples themselves, ``[seconds since start, KB, *extra]``."""
    soak = times_s >= warmup_s
    t, v = times_s[soak], values_kb[soak]
    if len(t) == 0 or np.isnan(v).all():
        return {"growth_kb_per_min": None, "samples": []}
    half = t >= t[0] + (t[-1] - t[0]) / 2
    slope = _slope_kb_per_min(t, v)
    residual = None
    if slope is not None:
        ok = ~np.isnan(v)
        fit = np.polyval(np.polyfit(t[ok] / 60.0, v[ok], 1), t[ok] / 60.0)
        residual = round(float(np.std(v[ok] - fit)), 1)
    return {
        "growth_kb_per_min": slope,
        "growth_kb_per_min_second_half": _slope_kb_per_min(t[half], v[half]),
        "fit_residual_std_kb": residual,
        "after_warmup_kb": round(float(v[0]), 1),
        "end_kb": round(float(v[-1]), 1),
        "min_kb": round(float(np.nanmin(v)), 1),
        "max_kb": round(float(np.nanmax(v)), 1),
        "samples": [
            [round(float(x), 1) for x in row]
            for row in zip(t, v, *(column[soak] for column in extra), strict=True)
        ],
    }


def _symbol_names(symbols: int) -> list[str]:
    return [f"{BASES[i % len(BASES)][:-4]}{i:02d}USDT" for i in range(symbols)]


def _market(symbols: int, history: int) -> ReplayMarket:
    frames = {}
    for i, name in enumerate(_symbol_names(symbols)):
        frames[name] = load_candles(DATA / f"{BASES[i % len(BASES)]}_5m_2025-08.csv")
    return ReplayMarket(frames, "5m", history=history, updates_per_candle=UPDATES_PER_CANDLE)


def _serve_exchange(symbols: int, speed: float, port_out: Connection) -> None:
    """The child process: serve the fake exchange until terminated, after sending its port."""

    async def serve() -> None:
        exchange = FakeExchange(_market(symbols, HISTORY), speed=speed, autostart=True)
        await exchange.start()
        port_out.send(exchange.port)
        await asyncio.Event().wait()

    asyncio.run(serve())


def _start_exchange(symbols: int, speed: float) -> tuple[Any, int]:
    """The fake exchange in a child process (terminate it when done), and its port."""
    context = multiprocessing.get_context("spawn")
    port_in, port_out = context.Pipe(duplex=False)
    exchange = context.Process(target=_serve_exchange, args=(symbols, speed, port_out), daemon=True)
    exchange.start()
    if not port_in.poll(120):
        exchange.terminate()
        raise RuntimeError("the fake exchange did not start within 120 s")
    return exchange, port_in.recv()


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


def _growing_sites(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int) -> list[dict]:
    """The ``top`` allocation tracebacks whose live memory grew most from ``before`` to ``after``
    (``frames``: the allocation site first, then its callers)."""
    here = tracemalloc.Filter(False, __file__)
    own = tracemalloc.Filter(False, tracemalloc.__file__)
    stats = after.filter_traces([here, own]).compare_to(before.filter_traces([here, own]), "traceback")
    out = []
    for stat in sorted(stats, key=lambda s: s.size_diff, reverse=True)[:top]:
        if stat.size_diff <= 0:
            break
        out.append(
            {
                "size_diff_kb": round(stat.size_diff / 1024, 1),
                "count_diff": stat.count_diff,
                "frames": [f"{frame.filename}:{frame.lineno}" for frame in reversed(stat.traceback)],
            }
        )
    return out


def _delete_topics(kafka: Any, prefix: str) -> None:
    from confluent_kafka.admin import AdminClient

    from cryptoflow.kafka import client_config

    admin = AdminClient(client_config(kafka))
    topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix + ".")]
    if topics:
        for future in admin.delete_topics(topics).values():
            future.result()


def run(
    symbols: int,
    cadence: float,
    warmup_s: float,
    soak_s: float,
    sample_s: float = 5.0,
    trace_top: int = 0,
) -> dict[str, Any]:
    settings = load_settings()
    prefix = f"bench-live-{uuid.uuid4().hex[:8]}"
    kafka = settings.kafka.model_copy(update={"topic_prefix": prefix})
    total_s = warmup_s + soak_s
    speed = 1.0 / (cadence * (UPDATES_PER_CANDLE + 1))  # candles per second
    exchange, port = _start_exchange(symbols, speed)
    try:
        base_url, stream_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/"
        clock = _AckClock()
        producer = EventProducer(kafka, linger_ms=0, on_delivery=clock.on_delivery)
        ensure_topics(kafka, [topic_name(kafka, kind) for kind in TOPIC_KINDS])  # not on the timed path
        rss = _RssSeries(int(total_s / sample_s) + 16, exchange.pid)
        counts = {"updates": 0, "after_warmup": 0}
        traced: dict[str, Any] = {}
        names = _symbol_names(symbols)
        current: dict[str, int] = {}

        def emit(event: Any) -> None:
            built = time.perf_counter_ns()
            value = encode(event)
            encoded = time.perf_counter_ns()
            marks = None
            if event.schema_name == "indicator" and current["measure"]:
                marks = [current["ns"], current["parsed"], built, encoded, 0]
                clock.pending_ns.setdefault(value, []).append(marks)
            producer.send_raw(producer.topic_for(event), value, key=event.key)
            if marks is not None:
                marks[4] = time.perf_counter_ns()

        def on_event(event: Any) -> None:
            if event.kind == "live" and not event.candle.is_closed:
                counts["updates"] += 1

        async def main() -> None:
            options = RealtimeOptions(
                names, "5m", prefix, source_name="live", source=SourceOptions(warmup_candles=HISTORY)
            )
            warmed: set[str] = set()

            def received(event: Any) -> None:  # before the engine handles it: emit() sees its arrival
                # latency is measured in steady state: after every symbol's REST warm-up and the first
                # two rounds of updates (which also wait for the producer's first metadata of the topic)
                if event.kind == "warmup":
                    warmed.add(event.candle.symbol)
                elif len(warmed) == len(names):
                    counts["after_warmup"] += 1
                current["ns"] = event.received_ns
                current["parsed"] = time.perf_counter_ns()
                current["measure"] = int(counts["after_warmup"] > 2 * len(names))

            async def sample() -> None:  # RSS every sample_s; tracemalloc snapshots during the soak
                start = time.monotonic()
                for i in range(len(rss.times_s)):
                    await asyncio.sleep(max(0.0, start + i * sample_s - time.monotonic()))
                    elapsed = time.monotonic() - start
                    if elapsed >= total_s or task.done():
                        break
                    rss.sample(elapsed, producer, clock)
                    if trace_top and elapsed >= warmup_s and not tracemalloc.is_tracing():
                        tracemalloc.start(10)
                    if trace_top and "before" not in traced and elapsed >= warmup_s + soak_s / 4:
                        traced["before"] = tracemalloc.take_snapshot()
                rss.sample(time.monotonic() - start, producer, clock)
                if trace_top and "before" in traced:
                    traced["after"] = tracemalloc.take_snapshot()
                    tracemalloc.stop()

            async def serve_reports() -> None:  # acks are timed when their delivery report is served
                while True:
                    producer.poll(0)
                    await asyncio.sleep(0.001)

            task = asyncio.create_task(
                run_realtime(
                    options,
                    emit,
                    endpoints=BinanceEndpoints(base_url, stream_url),
                    on_received=received,
                    on_event=on_event,
                )
            )
            sampler = asyncio.create_task(sample())
            reporter = asyncio.create_task(serve_reports())
            try:
                await sampler  # until the end of the soak (or of the engine, if it fails)
            finally:
                # Python 3.11's asyncio.wait_for (the source awaits messages through two of them) drops
                # a cancellation that arrives as the awaited message does: cancel until it takes
                while not task.done():
                    task.cancel()
                    await asyncio.wait([task], timeout=1.0)
                sampler.cancel()
                reporter.cancel()
            if not task.cancelled() and task.exception() is not None:
                raise RuntimeError(
                    "the realtime engine stopped before the end of the soak"
                ) from task.exception()

        asyncio.run(main())
        producer.flush(30)
    finally:
        exchange.terminate()
        exchange.join(10)
        _delete_topics(kafka, prefix)  # also when the run failed: no bench-live-* topic is left behind

    lat = clock.latencies_ms.values()
    times = rss.times_s[: rss.count]
    n = rss.count
    client = _rss_report(
        times, rss.client_kb[:n], warmup_s, rss.queued[:n], rss.max_ms[:n], rss.python_blocks[:n]
    )
    client["samples_columns"] = [
        "seconds",
        "rss_kb",
        "producer_queue",
        "max_ack_ms_since_last",
        "python_allocated_blocks",
    ]
    exchange_rss = _rss_report(times, rss.exchange_kb[: rss.count], warmup_s)
    result: dict[str, Any] = {
        "benchmark": "live",
        "symbols": symbols,
        "seconds": round(float(times[-1]), 1) if len(times) else 0.0,
        "warmup_s": warmup_s,
        "soak_s": soak_s,
        "sample_s": sample_s,
        "cadence_s": cadence,
        "updates": counts["updates"],
        "acknowledged": clock.latencies_ms.count,
        "latency_samples": int(len(lat)),
        "delivered": producer.delivered,
        "unmatched": sum(len(waiting) for waiting in clock.pending_ns.values()),
        "p50_ms": round(float(np.percentile(lat, 50)), 3) if len(lat) else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 3) if len(lat) else None,
        "max_ms": round(float(lat.max()), 3) if len(lat) else None,
        "stages": clock.breakdown(),
        "stages_unsplit": clock.unsplit,
        "stages_meaning": STAGES_MEANING,
        "memory_per_symbol_kb": round(_state_kb_per_symbol(symbols, HISTORY), 2),
        "memory_growth_kb_per_min": client["growth_kb_per_min"],
        "memory_measured": "RSS of the client process (kline source, indicators, Kafka producer), "
        "least squares over the samples after the warm-up; the fake exchange runs in a child process",
        "rss_mb_end": round(float(client["end_kb"]) / 1024, 1) if "end_kb" in client else None,
        "rss_kb": client,
        "exchange_memory_growth_kb_per_min": exchange_rss["growth_kb_per_min"],
        "exchange_rss_kb": {k: v for k, v in exchange_rss.items() if k != "samples"},
        "targets": {"p99_ms": 10, "memory_growth_kb_per_min": "flat"},
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }
    if trace_top:
        result["tracemalloc"] = "on during the soak: the RSS growth includes its bookkeeping"
        if "after" in traced:
            result["growing_allocations"] = _growing_sites(traced["before"], traced["after"], trace_top)
    return result


def orders(symbols: int, rounds: int) -> dict[str, Any]:
    """Signal-to-order latency and the executor's memory per symbol, on a fake exchange of ``symbols``
    symbols of its own (a child process, replaying slowly: the prices move a little between candles)."""
    prefix = f"bench-orders-{uuid.uuid4().hex[:8]}"
    kafka = load_settings().kafka.model_copy(update={"topic_prefix": prefix})
    exchange, port = _start_exchange(symbols, 0.05)
    try:
        base_url, stream_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/"
        return signal_to_order(kafka, base_url, stream_url, _symbol_names(symbols), rounds=rounds)
    finally:
        exchange.terminate()
        exchange.join(10)
        _delete_topics(kafka, prefix)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument(
        "--also-symbols",
        type=int,
        nargs="*",
        default=[500],
        metavar="N",
        help="latency runs at more symbols after the main run, reported as p50_ms_<N>, p99_ms_<N> and "
        "stages_<N> (default 500; a 1-minute warm-up and a --latency-minutes soak each)",
    )
    parser.add_argument(
        "--latency-minutes", type=float, default=1.0, help="soak of each --also-symbols run (default 1)"
    )
    parser.add_argument("--cadence", type=float, default=2.0, help="seconds between updates of one symbol")
    parser.add_argument(
        "--warmup-minutes", type=float, default=2.0, help="excluded from the memory growth (default 2)"
    )
    parser.add_argument(
        "--soak-minutes", type=float, default=3.0, help="RSS is fitted over this period (default 3)"
    )
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="RSS sampling period (default 5)")
    parser.add_argument(
        "--trace-allocations",
        type=int,
        default=0,
        metavar="N",
        help="report the N allocation sites growing most during the soak (tracemalloc; diagnostic)",
    )
    parser.add_argument(
        "--order-rounds",
        type=int,
        default=10,
        help="entry and exit candles of the signal-to-order run (default 10; 0 skips it)",
    )
    args = parser.parse_args(argv)
    result = run(
        args.symbols,
        args.cadence,
        args.warmup_minutes * 60.0,
        args.soak_minutes * 60.0,
        args.sample_seconds,
        args.trace_allocations,
    )
    for symbols in args.also_symbols:
        extra = run(symbols, args.cadence, 60.0, args.latency_minutes * 60.0, args.sample_seconds)
        for key in ("p50_ms", "p99_ms", "stages", "updates", "acknowledged", "unmatched"):
            result[f"{key}_{symbols}"] = extra[key]
        result["targets"][f"p99_ms_{symbols}"] = 25 if symbols >= 500 else 10
    if args.order_rounds > 0:
        result.update(orders(args.symbols, args.order_rounds))
        result["targets"]["signal_to_order_p99_ms"] = 50
    emit_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
