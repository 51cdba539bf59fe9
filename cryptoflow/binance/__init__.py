"""Binance, the real venue: everything that talks to it through python-binance, in one folder.

- client (``_http``): :class:`BinanceEndpoints` (Binance, its testnet, or any server speaking its
  protocol), the python-binance client factories (:func:`binance_classes`, :func:`binance_client`,
  :func:`open_client`, :func:`connect`) and :func:`is_restricted_location` (HTTP 451);
- market data (``_klines``): :class:`KlineSource`, kline websockets with reconnect and backfill, and
  :func:`fetch_warmup`, the REST history that warms indicators up;
- execution (``_broker``, ``_filters``, ``_limit``, ``_protection``, ``_user_stream``):
  :class:`BinanceFuturesBroker`, signed USD-M futures orders sized by the symbol's exchange filters
  (:class:`SymbolFilters`), MARKET or LIMIT entries, exchange-side protective orders at a
  :class:`Protection`'s levels, and the user data stream that reports the exchange's closes;
- history (``_download``): :func:`download_candles`, resumable paging through historical klines.

Retries follow :mod:`cryptoflow.retry`. A stand-in exchange for tests is
:mod:`cryptoflow.testing.fake_binance`.

>>> from cryptoflow.binance import BinanceEndpoints, KlineSource
>>> source = KlineSource(["ETHUSDT"], "5m", endpoints=BinanceEndpoints("http://127.0.0.1:9010",
...                      "ws://127.0.0.1:9010/"))
"""

from cryptoflow.binance._broker import BinanceFuturesBroker
from cryptoflow.binance._download import DOWNLOAD_COLUMNS, DownloadResult, download_candles
from cryptoflow.binance._filters import SymbolFilters
from cryptoflow.binance._http import (
    TESTNET_FUTURES,
    BinanceEndpoints,
    binance_classes,
    binance_client,
    connect,
    is_restricted_location,
    open_client,
)
from cryptoflow.binance._klines import KlineEvent, KlineSource, SourceOptions, fetch_warmup
from cryptoflow.binance._protection import Protection

__all__ = [
    "DOWNLOAD_COLUMNS",
    "TESTNET_FUTURES",
    "BinanceEndpoints",
    "BinanceFuturesBroker",
    "DownloadResult",
    "KlineEvent",
    "KlineSource",
    "Protection",
    "SourceOptions",
    "SymbolFilters",
    "binance_classes",
    "binance_client",
    "connect",
    "download_candles",
    "fetch_warmup",
    "is_restricted_location",
    "open_client",
]
