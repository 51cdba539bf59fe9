"""Live trading: closed candles -> strategy -> broker -> candle, signal and trade events.

Single-process mode reads klines from the exchange's websocket (:class:`AutoTrade`); the strategy
classes and the position rules are the backtester's (``close`` fill model), so a paper run over
replayed candles finds exactly the backtester's trades.
"""

from auto_trade._runner import AutoTrade, AutoTradeOptions
from auto_trade._trader import SymbolTrader

__all__ = ["AutoTrade", "AutoTradeOptions", "SymbolTrader"]
