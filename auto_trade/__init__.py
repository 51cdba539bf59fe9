"""Live trading, strategy workers and executors: closed candles -> strategy -> signals (and, in
single-process mode, a broker) -> candle, signal and trade events; signals -> a bot's rules -> orders.

Single-process mode reads klines from the exchange's websocket (:class:`AutoTrade`); worker mode reads
closed candles from the candles topic as one member of a consumer group (:class:`CandleTopicWorker`).
The strategy worker (:class:`SignalWorker`, ``cryptoflow signals``) runs K strategies (:class:`StrategyRun`)
as one member of its own consumer group on the candles topic and publishes their entries and exits as
``signal`` events, each strategy on a virtual position of its own (:class:`VirtualTrader`).
The strategy classes and the exit rules are the backtester's (``close`` fill model, both from
:mod:`cryptoflow.strategies`, applied by one function for every mode), so a paper run over replayed
candles finds exactly the backtester's trades, and a strategy worker exactly its entries and exits.

The executor (``cryptoflow execute --bot``) is one member of the bot's consumer group on the signals
topic (:class:`ExecuteWorker`); :class:`Executor` trades each signal under the bot's conflict rule,
protections and sizing (:mod:`cryptoflow.portfolio`) and publishes trade, lock and error events.
:func:`bot_status` reads its state back (``cryptoflow status --bot``).
"""

from auto_trade._execute import ExecuteOptions, ExecuteWorker, executor_state_path
from auto_trade._executor import (
    ExecutionBroker,
    Executor,
    ExecutorSummary,
    bot_broker,
    signal_order_id,
)
from auto_trade._runner import AutoTrade, AutoTradeOptions
from auto_trade._signals import (
    SignalOptions,
    SignalWorker,
    StrategyRun,
    VirtualPosition,
    VirtualTrader,
    indicator_settings,
)
from auto_trade._status import BotStatus, bot_status
from auto_trade._trader import SymbolTrader
from auto_trade._worker import CandleTopicWorker, WorkerOptions

__all__ = [
    "AutoTrade",
    "AutoTradeOptions",
    "BotStatus",
    "CandleTopicWorker",
    "ExecuteOptions",
    "ExecuteWorker",
    "ExecutionBroker",
    "Executor",
    "ExecutorSummary",
    "SignalOptions",
    "SignalWorker",
    "StrategyRun",
    "SymbolTrader",
    "VirtualPosition",
    "VirtualTrader",
    "WorkerOptions",
    "bot_broker",
    "bot_status",
    "executor_state_path",
    "indicator_settings",
    "signal_order_id",
]
