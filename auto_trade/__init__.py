"""Live trading and strategy workers: closed candles -> strategy -> signals (and, in single-process mode,
a broker) -> candle, signal and trade events.

Single-process mode reads klines from the exchange's websocket (:class:`AutoTrade`); worker mode reads
closed candles from the candles topic as one member of a consumer group (:class:`CandleTopicWorker`).
The strategy worker (:class:`SignalWorker`, ``cryptoflow signals``) runs K strategies (:class:`StrategyRun`)
as one member of its own consumer group on the candles topic and publishes their entries and exits as
``signal`` events, each strategy on a virtual position of its own (:class:`VirtualTrader`).
The strategy classes and the exit rules are the backtester's (``close`` fill model, both from
:mod:`cryptoflow.strategies`, applied by one function for every mode), so a paper run over replayed
candles finds exactly the backtester's trades, and a strategy worker exactly its entries and exits.
"""

from auto_trade._runner import AutoTrade, AutoTradeOptions
from auto_trade._signals import (
    SignalOptions,
    SignalWorker,
    StrategyRun,
    VirtualPosition,
    VirtualTrader,
    indicator_settings,
)
from auto_trade._trader import SymbolTrader
from auto_trade._worker import CandleTopicWorker, WorkerOptions

__all__ = [
    "AutoTrade",
    "AutoTradeOptions",
    "CandleTopicWorker",
    "SignalOptions",
    "SignalWorker",
    "StrategyRun",
    "SymbolTrader",
    "VirtualPosition",
    "VirtualTrader",
    "WorkerOptions",
    "indicator_settings",
]
