"""The fake exchange's public REST answers (no key needed): exchangeInfo, klines, tickers, mark price and
funding, for spot (``/api/v3``) and USD-M futures (``/fapi``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from cryptoflow.testing.fake_binance._errors import BinanceError
from cryptoflow.testing.fake_binance._market import ReplayMarket
from cryptoflow.testing.fake_binance._orders import ALGO_TYPES, ORDER_TYPES, symbol_param
from cryptoflow.testing.fake_binance._tickers import funding_history, klines, premium_index, ticker_24h

__all__ = ["FUTURES_ORDER_TYPES", "SPOT_ORDER_TYPES", "PublicApi"]

FUTURES_ORDER_TYPES = [*ORDER_TYPES, *ALGO_TYPES]
"""The order types a USD-M symbol lists in exchangeInfo (Binance's seven)."""
SPOT_ORDER_TYPES = [
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
]
"""The order types a spot symbol lists in exchangeInfo (Binance's seven)."""


def _int(query: Mapping[str, str], name: str) -> int | None:
    if name not in query:
        return None
    try:
        return int(query[name])
    except ValueError:
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'.") from None


class PublicApi:
    """Public endpoints over one :class:`ReplayMarket`; each method takes the query and answers JSON."""

    def __init__(self, market: ReplayMarket) -> None:
        self.market = market

    def _symbol(self, query: Mapping[str, str], *, name: str = "symbol", required: bool = True) -> str | None:
        return symbol_param(query, self.market, name=name, required=required)

    def exchange_info(self, *, futures: bool) -> dict[str, object]:
        """``GET /fapi/v1/exchangeInfo`` or ``/api/v3/exchangeInfo``."""
        symbols = []
        for symbol in self.market.symbols:
            rules = self.market.rules[symbol]
            price_filter = {
                "filterType": "PRICE_FILTER",
                "minPrice": rules.tick_size,
                "maxPrice": "1000000",
                "tickSize": rules.tick_size,
            }
            lot = {
                "filterType": "LOT_SIZE",
                "minQty": rules.step_size,
                "maxQty": "100000",
                "stepSize": rules.step_size,
            }
            base: dict[str, object] = {
                "symbol": symbol,
                "status": "TRADING",
                "baseAsset": rules.base_asset(),
                "quoteAsset": rules.quote_asset(),
                "baseAssetPrecision": 8,
                "quotePrecision": 8,
            }
            if futures:
                base.update(
                    pair=symbol,
                    contractType="PERPETUAL",
                    deliveryDate=4133404800000,
                    onboardDate=1569398400000,
                    maintMarginPercent="2.5000",
                    requiredMarginPercent="5.0000",
                    marginAsset="USDT",
                    underlyingType="COIN",
                    triggerProtect="0.0500",
                    liquidationFee="0.012500",
                    marketTakeBound="0.05",
                    pricePrecision=rules.price_decimals,
                    quantityPrecision=rules.qty_decimals,
                    orderTypes=list(FUTURES_ORDER_TYPES),
                    timeInForce=["GTC", "IOC", "FOK", "GTX", "GTD"],
                    filters=[
                        price_filter,
                        lot,
                        {**lot, "filterType": "MARKET_LOT_SIZE"},
                        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                        {"filterType": "MIN_NOTIONAL", "notional": rules.min_notional},
                        {
                            "filterType": "PERCENT_PRICE",
                            "multiplierUp": "1.0500",
                            "multiplierDown": "0.9500",
                            "multiplierDecimal": "4",
                        },
                    ],
                )
            else:
                base.update(
                    quoteAssetPrecision=8,
                    orderTypes=list(SPOT_ORDER_TYPES),
                    isSpotTradingAllowed=True,
                    isMarginTradingAllowed=False,
                    permissions=["SPOT"],
                    filters=[
                        price_filter,
                        lot,
                        {
                            "filterType": "NOTIONAL",
                            "minNotional": rules.min_notional,
                            "applyMinToMarket": True,
                            "maxNotional": "9000000",
                            "applyMaxToMarket": False,
                            "avgPriceMins": 5,
                        },
                    ],
                )
            symbols.append(base)
        return {
            "timezone": "UTC",
            "serverTime": int(time.time() * 1000),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400}
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        }

    def klines(self, query: Mapping[str, str], *, futures: bool, continuous: bool) -> list[list[object]]:
        """``GET /fapi/v1/klines``, ``/fapi/v1/continuousKlines`` or ``/api/v3/klines``: every interval
        (see :func:`~cryptoflow.testing.fake_binance._tickers.klines`)."""
        symbol = str(self._symbol(query, name="pair" if continuous else "symbol"))
        if "interval" not in query:
            raise BinanceError(
                -1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed."
            )
        limit = _int(query, "limit") or 500
        top = 1500 if futures else 1000
        if not 1 <= limit <= top:
            limit = top if limit > top else 500
        states = klines(
            self.market,
            symbol,
            query["interval"],
            start_time=_int(query, "startTime"),
            end_time=_int(query, "endTime"),
            limit=limit,
        )
        return [self.market.rest_row(s) for s in states]

    def _each(
        self, query: Mapping[str, str], answer: Callable[[str], dict[str, object]]
    ) -> dict[str, object] | list[dict[str, object]]:
        symbol = self._symbol(query, required=False)
        if symbol is not None:
            return answer(symbol)
        return [answer(s) for s in self.market.symbols]

    def ticker_24h(self, query: Mapping[str, str], *, futures: bool) -> object:
        """``GET /fapi/v1/ticker/24hr`` or ``/api/v3/ticker/24hr`` (with the book's best bid and ask, both
        at the last price): one symbol or all."""

        def answer(symbol: str) -> dict[str, object]:
            row = ticker_24h(self.market, symbol)
            if futures:
                return row
            last, qty = row["lastPrice"], self.market.rules[symbol].step_size
            spot: dict[str, object] = {}
            for key, value in row.items():
                if key == "lastPrice":
                    spot["prevClosePrice"] = row["openPrice"]  # the close before the window opened
                spot[key] = value
                if key == "lastQty":
                    spot |= {"bidPrice": last, "bidQty": qty, "askPrice": last, "askQty": qty}
            return spot

        return self._each(query, answer)

    def ticker_price(self, query: Mapping[str, str], *, futures: bool) -> object:
        """``GET /fapi/v1|v2/ticker/price`` (with ``time``) or ``/api/v3/ticker/price``."""

        def answer(symbol: str) -> dict[str, object]:
            row: dict[str, object] = {
                "symbol": symbol,
                "price": self.market.fmt_price(symbol, self.market.price(symbol)),
            }
            if futures:
                row["time"] = int(time.time() * 1000)
            return row

        return self._each(query, answer)

    def premium_index(self, query: Mapping[str, str]) -> object:
        """``GET /fapi/v1/premiumIndex``: mark price and funding, one symbol or all."""
        return self._each(query, lambda s: premium_index(self.market, s, int(time.time() * 1000)))

    def funding_rate(self, query: Mapping[str, str]) -> list[dict[str, object]]:
        """``GET /fapi/v1/fundingRate``: one symbol's settlements (every symbol's without ``symbol``)."""
        limit = max(1, min(_int(query, "limit") or 100, 1000))
        symbol = self._symbol(query, required=False)
        rows = []
        for s in [symbol] if symbol else self.market.symbols:
            rows += funding_history(
                self.market,
                s,
                start_time=_int(query, "startTime"),
                end_time=_int(query, "endTime"),
                limit=limit,
            )
        return rows
