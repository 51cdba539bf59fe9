"""A local fake Binance exchange for tests and offline demos.

It replays real candle files on a clock and speaks Binance's wire formats: spot (``/api/v3``) and USD-M
futures (``/fapi``) REST, kline and continuous-kline websocket streams (raw and combined), HMAC-SHA256
signatures with timestamp/recvWindow checks, and errors shaped ``{"code": -1021, "msg": ...}``.
python-binance runs against it unchanged apart from its base URLs (see
:func:`cryptoflow.marketdata.binance_classes`).

>>> from cryptoflow.exchange import FakeExchange, ReplayMarket
>>> exchange = FakeExchange(ReplayMarket.from_files(["ETHUSDT_5m.csv"]), speed=10)  # doctest: +SKIP
>>> exchange.start_in_thread().start_replay()                                        # doctest: +SKIP
"""

from cryptoflow.exchange._account import BinanceError, FuturesAccount
from cryptoflow.exchange._auth import sign
from cryptoflow.exchange._market import KlineState, ReplayMarket, SymbolRules
from cryptoflow.exchange._server import FakeExchange

__all__ = [
    "BinanceError",
    "FakeExchange",
    "FuturesAccount",
    "KlineState",
    "ReplayMarket",
    "SymbolRules",
    "sign",
]
