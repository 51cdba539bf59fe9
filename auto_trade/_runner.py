"""Single-process auto trading: websocket klines -> per-symbol traders -> broker -> events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from auto_trade._trader import Emit, SymbolTrader, engine_record, log_resumed
from cryptoflow.binance import BinanceEndpoints, KlineSource, SourceOptions
from cryptoflow.brokers import Broker
from cryptoflow.candles import Candle
from cryptoflow.config import Market
from cryptoflow.events import Source
from cryptoflow.strategies import Strategy

__all__ = ["AutoTrade", "AutoTradeOptions"]

log = logging.getLogger(__name__)


@dataclass
class AutoTradeOptions:
    """What to trade and how.

    symbols, interval: the markets (one websocket connection for all). run_id: names the run in events,
    state files and client order ids (the same run id resumes the same state). state_dir: where the
    engine's state is kept. source: warm-up, silence timeout and backoff of the kline source.
    until_open_time: stop once every symbol decided the candle opened at this time (tests, replays).
    """

    symbols: list[str]
    interval: str
    run_id: str
    state_dir: Path
    market: Market = "futures"
    source: SourceOptions = field(default_factory=SourceOptions)
    until_open_time: int | None = None


class AutoTrade:
    """Runs one strategy over many symbols with one broker until stopped.

    Warm-up candles (REST history) only feed the indicators. Closed candles from the websocket, or
    fetched after a reconnect, are decided once each, in order; ``flush`` returns once the emitted
    events are acknowledged (the producer's), and only then is the decision recorded (with the
    positions, in the broker's state file). Candles that closed while the process was not running are
    not traded (their prices are stale): after a restart they only warm up the indicators, and positions
    come back from the broker before the first decision. A fill the process made but did not get to
    record (it stopped in between) has its events published again then, with the same ids.
    """

    def __init__(
        self,
        options: AutoTradeOptions,
        strategy: Strategy,
        broker: Broker,
        emit: Emit,
        *,
        flush: Callable[[], object] = lambda: None,
        endpoints: BinanceEndpoints | None = None,
        source_name: Source | None = None,
    ) -> None:
        self.options = options
        self.broker = broker
        self.flush = flush
        self.endpoints = endpoints
        self._legacy_state = options.state_dir / f"{options.run_id}.engine.json"
        self._source_options = options.source
        if strategy.declared_indicators():  # enough history for them too
            warmup = max(options.source.warmup_candles, strategy.warmup + 1)
            self._source_options = replace(options.source, warmup_candles=warmup)
        self.traders = {
            s: SymbolTrader(
                s,
                options.interval,
                strategy,
                broker,
                run_id=options.run_id,
                source=source_name or broker.name,
                emit=emit,
            )
            for s in options.symbols
        }
        self.source: KlineSource | None = None
        self.on_event: Callable[[object], None] | None = None
        self.on_decided: Callable[[Candle], None] | None = None
        """Called after each closed candle was decided (tests and replays pace the exchange with it)."""

    async def run(self) -> None:
        """Read back positions, then trade until ``until_open_time`` (or forever)."""
        positions = await self.broker.start(self.options.symbols)
        for position in positions.values():
            if position is not None:
                log_resumed(position)
        saved = engine_record(self.broker, self._legacy_state).get("last_decided", {})
        for symbol, trader in self.traders.items():
            trader.last_decided = saved.get(symbol)
        self.source = KlineSource(
            self.options.symbols,
            self.options.interval,
            market=self.options.market,
            endpoints=self.endpoints,
            options=self._source_options,
        )
        until = self.options.until_open_time
        done: set[str] = set()
        events = self.source.events()
        try:
            async for event in events:
                if self.on_event is not None:
                    self.on_event(event)
                candle = event.candle
                trader = self.traders[candle.symbol]
                if event.kind == "warmup":
                    if trader.last_decided is None or candle.open_time > trader.last_decided:
                        trader.catch_up(candle)  # missed while down: not traded
                    else:
                        trader.warm(candle)
                    continue
                if not candle.is_closed:
                    continue
                await trader.on_closed(candle)
                if self.on_decided is not None:
                    self.on_decided(candle)
                self.flush()  # the decision's events are in Kafka before it is recorded
                self.broker.record({"last_decided": {s: t.last_decided for s, t in self.traders.items()}})
                if until is not None and candle.open_time >= until:
                    done.add(candle.symbol)
                    if done == set(self.traders):
                        break
        finally:
            await events.aclose()
            await self.broker.stop()
