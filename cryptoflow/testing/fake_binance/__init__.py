"""A local fake Binance exchange for tests and offline demos, as strict as Binance where clients rely on it.

It replays real candle files on a clock and speaks Binance's wire formats: spot (``/api/v3``) and USD-M
futures (``/fapi``) REST, kline and continuous-kline websocket streams (raw and combined), the futures user
data stream (listenKey: ``ORDER_TRADE_UPDATE``, ``ALGO_UPDATE``, ``ACCOUNT_UPDATE``), HMAC-SHA256
signatures with timestamp/recvWindow checks, and errors shaped ``{"code": -2019, "msg": ...}``.
python-binance runs against it unchanged apart from its base URLs (see
:func:`cryptoflow.binance.binance_classes`).

Refused as on Binance: an order the account cannot margin (-2019), a reduce-only order with nothing to
reduce (-2022), a conditional type on ``/fapi/v1/order`` (-4120: Binance serves them on
``/fapi/v1/algoOrder``), a stop that would trigger at once (-2021). Every price sent lies on the symbol's
tick grid. How conditional and LIMIT orders meet the replayed prices (the candle path, gaps, partial fills
by volume share) is documented in :class:`OrderDesk` and :func:`candle_path`.

>>> from cryptoflow.testing.fake_binance import FakeExchange, ReplayMarket
>>> exchange = FakeExchange(ReplayMarket.from_files(["ETHUSDT_5m.csv"]), speed=10)  # doctest: +SKIP
>>> exchange.start_in_thread().start_replay()                                        # doctest: +SKIP
"""

from cryptoflow.testing.fake_binance._account import FuturesAccount
from cryptoflow.testing.fake_binance._auth import API_KEY, API_SECRET, sign
from cryptoflow.testing.fake_binance._desk import OrderDesk
from cryptoflow.testing.fake_binance._errors import BinanceError
from cryptoflow.testing.fake_binance._market import KlineState, ReplayMarket, SymbolRules, candle_path
from cryptoflow.testing.fake_binance._server import FakeExchange, exchange_environment
from cryptoflow.testing.fake_binance._shared import replay_exchange

__all__ = [
    "API_KEY",
    "API_SECRET",
    "BinanceError",
    "FakeExchange",
    "FuturesAccount",
    "KlineState",
    "OrderDesk",
    "ReplayMarket",
    "SymbolRules",
    "candle_path",
    "exchange_environment",
    "replay_exchange",
    "sign",
]
