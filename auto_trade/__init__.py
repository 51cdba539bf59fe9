"""Live trading: closed candles -> strategy -> broker -> candle, signal and trade events; and the
executor: the signals of the strategies a bot follows -> its portfolio's rules -> orders.

Single-process mode reads klines from the exchange's websocket (:class:`AutoTrade`); worker mode reads
closed candles from the candles topic as one member of a consumer group (:class:`CandleTopicWorker`).
The strategy classes and the exit rules are the backtester's (``close`` fill model, both from
:mod:`cryptoflow.strategies`), so a paper run over replayed candles finds exactly the backtester's trades.

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
    "SymbolTrader",
    "WorkerOptions",
    "bot_broker",
    "bot_status",
    "executor_state_path",
    "signal_order_id",
]
