"""Intrabar indicators: every kline update -> provisional values (``peek``) -> ``indicator`` event; every
closed candle -> ``update`` -> ``candle`` event with its indicators."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptoflow.binance import BinanceEndpoints, KlineEvent, KlineSource, SourceOptions
from cryptoflow.candles import Candle
from cryptoflow.config import Market
from cryptoflow.events import CandleEvent, Event, IndicatorEvent, Source
from cryptoflow.indicators import StreamingIndicators

__all__ = ["IntrabarIndicators", "RealtimeOptions", "run_realtime"]

log = logging.getLogger(__name__)
Emit = Callable[[Event], None]


@dataclass
class RealtimeOptions:
    """What to stream: symbols and interval, indicator preset and periods, the run id of the events,
    the kline source's options, and (tests, replays) the open time after which to stop."""

    symbols: list[str]
    interval: str
    run_id: str
    preset: str = "ta"
    params: dict[str, Any] = field(default_factory=dict)
    market: Market = "futures"
    source_name: Source = "live"
    source: SourceOptions = field(default_factory=SourceOptions)
    until_open_time: int | None = None


class IntrabarIndicators:
    """Indicator state of many symbols; turns kline events into ``indicator`` and ``candle`` events."""

    def __init__(self, options: RealtimeOptions, emit: Emit) -> None:
        self.options = options
        self.emit = emit
        self.streams = {s: StreamingIndicators(options.preset, **options.params) for s in options.symbols}

    def on_event(self, event: KlineEvent) -> None:
        """Handle one event from :class:`~cryptoflow.binance.KlineSource`."""
        candle = event.candle
        stream = self.streams.get(candle.symbol)
        if stream is None:
            return
        if event.kind == "warmup":
            stream.update(candle)
        elif candle.is_closed:
            self.emit(self.candle_event(candle, stream.update(candle)))
        else:
            self.emit(self.indicator_event(candle, stream.peek(candle), event.event_time))

    def indicator_event(
        self, candle: Candle, values: dict[str, float | int], update_time: int
    ) -> IndicatorEvent:
        """The provisional values of the still-open ``candle`` as of ``update_time`` (epoch ms)."""
        o = self.options
        return IndicatorEvent.of_update(candle, values, update_time, source=o.source_name, run_id=o.run_id)

    def candle_event(self, candle: Candle, values: dict[str, float | int]) -> CandleEvent:
        """A closed candle with its final indicator values."""
        return CandleEvent.of_candle(
            candle, values, source=self.options.source_name, run_id=self.options.run_id
        )


async def run_realtime(
    options: RealtimeOptions,
    emit: Emit,
    *,
    endpoints: BinanceEndpoints | None = None,
    on_received: Callable[[KlineEvent], None] | None = None,
    on_event: Callable[[KlineEvent], None] | None = None,
) -> IntrabarIndicators:
    """Stream klines and emit events until ``options.until_open_time`` closed for every symbol (or
    forever).

    ``on_received`` sees every kline event before it is handled, so whatever ``emit`` is called with
    next comes from that event (a benchmark timing a message's path to Kafka notes its
    ``received_ns``); ``on_event`` sees it after it was handled (benchmarks, progress)."""
    engine = IntrabarIndicators(options, emit)
    source = KlineSource(
        options.symbols,
        options.interval,
        market=options.market,
        endpoints=endpoints,
        options=options.source,
    )
    done: set[str] = set()
    events = source.events()
    try:
        async for event in events:
            if on_received is not None:
                on_received(event)
            engine.on_event(event)
            if on_event is not None:
                on_event(event)
            until = options.until_open_time
            if until is not None and event.candle.is_closed and event.candle.open_time >= until:
                done.add(event.candle.symbol)
                if done == set(options.symbols):
                    break
    finally:
        await events.aclose()
    return engine
