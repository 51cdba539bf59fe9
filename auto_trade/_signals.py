"""The strategy worker (``cryptoflow signals``): closed candles from the candles topic -> K strategies ->
``signal`` events on the signals topic.

One member of a consumer group on the candles topic (see :mod:`auto_trade._group`); start as many as you
like with the same strategies and they share the symbols. Per (strategy run, symbol) it holds a *virtual*
position of its own, entered at a candle's close and left by the backtester's exit rules
(:mod:`auto_trade._decision`), so a strategy's signals are exactly the entries and exits of its own
single-strategy ``close``-model backtest on the same candles (with no slippage: the virtual entry is the
close). No executor's fills ever change it.

Indicators: a strategy whose indicator settings (:func:`indicator_settings`: preset and periods) equal
those the candles were produced with (:attr:`SignalOptions.candles_indicators`, ``cryptoflow
indicators``' ``--preset`` and its default periods) decides on the values the candle event carries; any
other computes its own, warmed up from the exchange's REST history when the symbol is taken over. The
worker publishes signals only, never a copy of the candle.

State: per (run, symbol) a file ``<state_dir>/<run_id>.<symbol>.signals.json`` (the virtual position and
the open time of the last candle decided), saved after the candle's signals were acknowledged by Kafka.
Every process of the group must share ``state_dir``. A candle re-delivered after a crash is decided
again from the state saved before it: the same signal, with the same id; a candle decided already only
feeds the indicators.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from auto_trade._decision import Decision, decide, signal_event, strategy_inputs
from auto_trade._group import CandleGroupMember
from cryptoflow.binance import BinanceEndpoints
from cryptoflow.brokers import StateFile
from cryptoflow.candles import Candle
from cryptoflow.config import KafkaSettings, Market
from cryptoflow.errors import ConfigurationError
from cryptoflow.events import CandleEvent, Event, SignalEvent, Source
from cryptoflow.indicators import PRESETS, IndicatorParams, StreamingIndicators, resolve_params
from cryptoflow.strategies import LiveInputs, Strategy, StrategyError

__all__ = [
    "SignalOptions",
    "SignalWorker",
    "StrategyRun",
    "VirtualPosition",
    "VirtualTrader",
    "indicator_settings",
]

log = logging.getLogger(__name__)
Emit = Callable[[Event], None]


def indicator_settings(strategy: Strategy) -> IndicatorParams:
    """The indicator settings (preset and periods) ``strategy`` decides on: what
    :class:`~cryptoflow.indicators.StreamingIndicators` and the backtester compute for it."""
    return resolve_params(strategy.indicator_preset, **strategy.indicator_params())


@dataclass(frozen=True)
class StrategyRun:
    """A strategy with its parameters, and the run id its signals carry (unique within a worker).

    The run id names the signals (an executor's bot follows a strategy by name and run id), the
    strategy's state files and, by default, the consumer group.
    """

    run_id: str
    strategy: Strategy

    def describe(self) -> str:
        """``basic(stop_loss_pct=2) (run sig-basic)``."""
        return f"{self.strategy.describe()} (run {self.run_id})"


@dataclass
class SignalOptions:
    """What a strategy worker reads and where it keeps its state.

    symbols: the universe (a candle of another symbol is skipped). interval: the candles it decides on.
    state_dir: the virtual positions, per (run, symbol); shared by every worker of the group.
    candles_source, candles_run_id: whose candles: those ``cryptoflow indicators`` publishes (source
        ``live``, its ``--run-id``, default ``realtime``).
    candles_indicators: the indicator settings the candles were produced with (``cryptoflow
        indicators --preset ta`` and default periods: ``PRESETS["ta"]``); ``None`` when unknown (every
        strategy computes its own).
    group: the consumer group (default ``<topic prefix>.signals.<run ids, sorted, joined by +>``: workers
        running the same strategies share the symbols).
    warmup_candles: REST history fetched per symbol on activation, for strategies computing their own
        indicators.
    until_open_time: stop once every symbol handled the candle opened at this time (tests, replays).
    """

    symbols: list[str]
    interval: str
    state_dir: Path
    candles_source: Source = "live"
    candles_run_id: str = "realtime"
    candles_indicators: IndicatorParams | None = field(default_factory=lambda: PRESETS["ta"])
    group: str | None = None
    market: Market = "futures"
    warmup_candles: int = 300
    until_open_time: int | None = None


@dataclass
class VirtualPosition:
    """A strategy's own position on one symbol: entered at a candle's close, never sent anywhere.

    side: +1 long, -1 short. entry_time: open time of the entry candle (epoch ms). entry_price: that
    candle's close. extreme: the best close since the entry (trailing stop). held: candles since the
    entry candle.
    """

    side: int
    entry_time: int
    entry_price: float
    extreme: float
    held: int = 0


class VirtualTrader:
    """One strategy run on one symbol: its virtual position, the last candle it decided and, when it
    cannot use the candles' own indicators, its indicator stream. :meth:`on_candle` turns a closed candle
    into at most one signal; :meth:`save` writes the state (atomically) once that signal is delivered.
    """

    def __init__(
        self, run: StrategyRun, symbol: str, *, source: Source, state_dir: Path, own_indicators: bool
    ) -> None:
        self.run = run
        self.symbol = symbol
        self.source = source
        self.file = StateFile(state_dir / f"{run.run_id}.{symbol}.signals.json")
        strategy = run.strategy
        self.indicators = (
            StreamingIndicators(strategy.indicator_preset, **strategy.indicator_params())
            if own_indicators
            else None
        )
        declared = strategy.declared_indicators()
        self.declared = declared.stream() if declared else None  # a strategy's own: always streamed here
        self.past: deque[dict[str, Any]] = deque(maxlen=strategy.lookback)  # what ind.ago reads
        saved = self.file.load()
        self.last_decided: int | None = saved.get("last_decided")
        held = saved.get("position")
        self.position: VirtualPosition | None = None if held is None else VirtualPosition(**held)

    def _feed(
        self, candle: Candle, carried: Mapping[str, float | None] | None
    ) -> tuple[Mapping[str, float | None] | None, dict[str, Any]]:
        """The candle's indicators (``carried`` or its own, and the declared ones) and the rules' inputs,
        which are kept for the next candles' ``ind.ago``."""
        values: Mapping[str, float | None] | None = (
            carried if self.indicators is None else self.indicators.update(candle)
        )
        if self.declared is not None:
            values = {**(values or {}), **self.declared.update(candle)}
        row = strategy_inputs(candle, values or {})
        self.past.append(row)
        return values, row

    def warm(self, candle: Candle) -> None:
        """Feed a history candle to its own indicators (none: nothing to do)."""
        if self.indicators is not None:
            self._feed(candle, None)

    def on_candle(self, candle: Candle, carried: Mapping[str, float | None] | None) -> SignalEvent | None:
        """Decide one closed candle (the indicators it carries are ``carried``); a candle decided already
        only feeds the indicators. The position moves at once; :meth:`save` records it."""
        before = tuple(self.past)
        values, row = self._feed(candle, carried)
        last = self.last_decided
        if last is not None and candle.open_time <= last:
            return None
        step = candle.close_time + 1 - candle.open_time
        if last is not None and candle.open_time > last + step:
            # the virtual position goes on across the gap; a backtest on these candles has no gap
            log.warning(
                "%s %s: %d candle(s) missing between the one opened at %d and the one opened at %d",
                self.symbol,
                self.run.run_id,
                (candle.open_time - last) // step - 1,
                last,
                candle.open_time,
            )
        self.last_decided = candle.open_time
        if values is None:
            log.error(
                "%s %s: the candle opened at %d carries no indicators; no decision",
                self.symbol,
                self.run.run_id,
                candle.open_time,
            )
            return None
        try:
            ind = LiveInputs(row, before, self.run.strategy.lookback)
            signals = self.run.strategy.evaluate(ind)
        except StrategyError as exc:
            log.error("%s: %s; no decision on the candle opened at %d", self.symbol, exc, candle.open_time)
            return None
        decision, extreme = decide(self.run.strategy, self.position, candle.close, signals)
        if decision is None:
            if self.position is not None:
                self.position.extreme = extreme
                self.position.held += 1
            return None
        self._follow(candle, decision)
        return signal_event(
            self.run.strategy,
            candle,
            decision,
            source=self.source,
            run_id=self.run.run_id,
            indicators=values,
        )

    def _follow(self, candle: Candle, decision: Decision) -> None:
        if decision.action.startswith("entry"):
            self.position = VirtualPosition(decision.side, candle.open_time, candle.close, candle.close)
            log.info("%s %s: %s at %g", self.symbol, self.run.run_id, decision.action, candle.close)
        else:
            self.position = None
            log.info(
                "%s %s: %s at %g (%s)",
                self.symbol,
                self.run.run_id,
                decision.action,
                candle.close,
                decision.reason,
            )

    def document(self) -> dict[str, object]:
        """The state as saved: the last candle decided and the virtual position."""
        position = None if self.position is None else asdict(self.position)
        return {"last_decided": self.last_decided, "position": position}

    def save(self) -> None:
        """Write the state (one atomic replace of the run's file for this symbol)."""
        self.file.save(self.document())


@dataclass
class _Symbol:
    traders: list[VirtualTrader]
    partition: int
    fed_until: int | None  # open time of the last candle the indicators saw


def default_group(prefix: str, runs: Sequence[StrategyRun]) -> str:
    """``<prefix>.signals.<run ids, sorted, joined by +>``: workers with the same strategies share one."""
    return f"{prefix}.signals.{'+'.join(sorted(r.run_id for r in runs))}"


class SignalWorker(CandleGroupMember[_Symbol]):
    """One member of a strategy workers' consumer group: closed candles in, ``signal`` events out.

    ``runs``: the strategies (run ids unique). ``emit`` publishes a signal (the producer's ``send``;
    the event's key is ``symbol|interval``); ``flush`` returns once every emitted event is acknowledged.

    >>> worker = SignalWorker(SignalOptions(["ETHUSDT"], "5m", Path("state")), settings.kafka,
    ...     [StrategyRun("sig-basic", load_strategy("basic"))], producer.send, flush=producer.flush)
    ... # doctest: +SKIP
    >>> asyncio.run(worker.run())  # doctest: +SKIP
    """

    options: SignalOptions

    def __init__(
        self,
        options: SignalOptions,
        kafka: KafkaSettings,
        runs: Sequence[StrategyRun],
        emit: Emit,
        *,
        flush: Callable[[], object] = lambda: None,
        endpoints: BinanceEndpoints | None = None,
    ) -> None:
        if not runs:
            raise ConfigurationError("a strategy worker needs at least one strategy")
        ids = [r.run_id for r in runs]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ConfigurationError(
                f"run id(s) {', '.join(twice)} given to more than one strategy; give each its own "
                "(--strategy NAME@RUN_ID)"
            )
        group = options.group or default_group(kafka.topic_prefix, runs)
        declaring = [r.strategy.warmup + 1 for r in runs if r.strategy.declared_indicators()]
        if declaring:  # enough warm-up history for their declared indicators too
            options = replace(options, warmup_candles=max(options.warmup_candles, *declaring))
        super().__init__(options, kafka, group, endpoints=endpoints)
        self.runs = list(runs)
        self.emit = emit
        self.flush = flush

    def uses_carried_indicators(self, run: StrategyRun) -> bool:
        """Whether ``run`` decides on the indicators the candles carry: its settings equal those the
        candles were produced with (:attr:`SignalOptions.candles_indicators`) and it declares none of its
        own (those are computed here, from a warm-up, with the built-in ones)."""
        declares = bool(run.strategy.declared_indicators())
        return not declares and indicator_settings(run.strategy) == self.options.candles_indicators

    async def _activate(self, event: CandleEvent, partition: int) -> _Symbol:
        symbol = event.symbol
        traders = [
            VirtualTrader(
                run,
                symbol,
                source=event.source,
                state_dir=self.options.state_dir,
                own_indicators=not self.uses_carried_indicators(run),
            )
            for run in self.runs
        ]
        own = [t for t in traders if t.indicators is not None]
        history = await self.history(symbol, event.time_ms) if own else []
        for old in history:
            for trader in own:
                trader.warm(old)
        for trader in traders:
            if trader.position is not None:
                side = "long" if trader.position.side > 0 else "short"
                log.info(
                    "%s %s: resuming a virtual %s from %g",
                    symbol,
                    trader.run.run_id,
                    side,
                    trader.position.entry_price,
                )
        log.info(
            "%s: deciding it for %d strateg%s (partition %d, %d warm-up candles)",
            symbol,
            len(traders),
            "y" if len(traders) == 1 else "ies",
            partition,
            len(history),
        )
        held = _Symbol(traders, partition, history[-1].open_time if history else None)
        self.symbols[symbol] = held
        return held

    async def handle_event(self, event: CandleEvent, partition: int) -> Candle:
        """Decide one closed candle event for every strategy (taking its symbol over on first sight),
        publish the signals, wait until Kafka has them, then save each strategy's state."""
        held = self.symbols.get(event.symbol) or await self._activate(event, partition)
        candle = event.to_candle()
        if held.fed_until is not None and candle.open_time <= held.fed_until:
            return candle  # a re-delivery the indicators have seen
        values = event.candle.indicators
        carried = None if values is None else values.model_dump()
        for trader in held.traders:
            signal = trader.on_candle(candle, carried)
            if signal is not None:
                self.emit(signal)
        held.fed_until = candle.open_time
        self.flush()  # the signals are in Kafka before the decisions are recorded and the offset stored
        for trader in held.traders:
            trader.save()
        return candle
