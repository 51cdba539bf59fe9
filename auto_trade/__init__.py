"""Live trading: closed candles -> strategy -> broker -> candle, signal and trade events.

Single-process mode reads klines from the exchange's websocket (:class:`AutoTrade`); worker mode reads
closed candles from the candles topic as one member of a consumer group (:class:`CandleTopicWorker`).
The strategy classes and the exit rules are the backtester's (``close`` fill model, both from
:mod:`cryptoflow.strategies`), so a paper run over replayed candles finds exactly the backtester's trades.
"""

from auto_trade._runner import AutoTrade, AutoTradeOptions
from auto_trade._trader import SymbolTrader
from auto_trade._worker import CandleTopicWorker, WorkerOptions

__all__ = ["AutoTrade", "AutoTradeOptions", "CandleTopicWorker", "SymbolTrader", "WorkerOptions"]
