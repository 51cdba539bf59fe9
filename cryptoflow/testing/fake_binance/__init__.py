"""A local fake Binance exchange for tests and offline demos.

It replays real candle files on a clock and speaks Binance's wire formats: spot (``/api/v3``) and USD-M
futures (``/fapi``) REST, kline and continuous-kline websocket streams (raw and combined), HMAC-SHA256
signatures with timestamp/recvWindow checks, and errors shaped ``{"code": -1021, "msg": ...}``.
python-binance runs against it unchanged apart from its base URLs (see
:func:`cryptoflow.binance.binance_classes`).

>>> from cryptoflow.testing.fake_binance import FakeExchange, ReplayMarket
>>> exchange = FakeExchange(ReplayMarket.from_files(["ETHUSDT_5m.csv"]), speed=10)  # doctest: +SKIP
>>> exchange.start_in_thread().start_replay()                                        # doctest: +SKIP
"""

from cryptoflow.testing.fake_binance._account import BinanceError, FuturesAccount
from cryptoflow.testing.fake_binance._auth import API_KEY, API_SECRET, sign
from cryptoflow.testing.fake_binance._market import KlineState, ReplayMarket, SymbolRules
from cryptoflow.testing.fake_binance._server import FakeExchange, exchange_environment
from cryptoflow.testing.fake_binance._shared import replay_exchange

__all__ = [
    "API_KEY",
    "API_SECRET",
    "BinanceError",
    "FakeExchange",
    "FuturesAccount",
    "KlineState",
    "ReplayMarket",
    "SymbolRules",
    "exchange_environment",
    "replay_exchange",
    "sign",
]
