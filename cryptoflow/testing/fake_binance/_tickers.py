"""Market data derived from the replayed candles: klines of every Binance interval, 24-hour tickers,
mark price and funding (``/fapi/v1/klines``, ``ticker/24hr``, ``ticker/price``, ``premiumIndex``,
``fundingRate``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from cryptoflow.candles import BINANCE_INTERVALS, bucket_start, interval_ms
from cryptoflow.testing.fake_binance._errors import BinanceError
from cryptoflow.testing.fake_binance._market import KlineState, ReplayMarket

__all__ = ["FUNDING_RATE", "FUNDING_INTERVAL_MS", "funding_history", "klines", "premium_index", "ticker_24h"]

SERVED_INTERVALS = (*BINANCE_INTERVALS, "1M")
FUNDING_RATE = "0.00010000"
"""The funding rate of every settlement (Binance's base rate, 0.01 % per 8 hours)."""
FUNDING_INTERVAL_MS = 8 * 3_600_000
_DAY_MS = 86_400_000


def _bounds(open_time: int, interval: str) -> tuple[int, int]:
    """Open and close time of the ``interval`` kline that contains ``open_time`` (months by the calendar)."""
    if interval == "1M":
        day = datetime.fromtimestamp(open_time / 1000, UTC)
        start = datetime(day.year, day.month, 1, tzinfo=UTC)
        following = datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=UTC)
        return int(start.timestamp() * 1000), int(following.timestamp() * 1000) - 1
    first = bucket_start(open_time, interval)
    return first, first + interval_ms(interval) - 1


def _check_interval(market: ReplayMarket, interval: str) -> None:
    if interval not in SERVED_INTERVALS:
        raise BinanceError(-1120, "Invalid interval.")
    if interval == market.interval:
        return
    length = 28 * _DAY_MS if interval == "1M" else interval_ms(interval)
    if length < market.interval_ms or (interval != "1M" and length % market.interval_ms):
        raise BinanceError(
            -1120,
            f"Invalid interval: the fake exchange replays {market.interval} candles and serves that "
            "interval and the longer ones built from it.",
        )


def _merge(group: list[KlineState], interval: str) -> KlineState:
    first, last = group[0], group[-1]
    open_time, close_time = _bounds(first.open_time, interval)
    return replace(
        last,
        interval=interval,
        open_time=open_time,
        close_time=close_time,
        open=first.open,
        high=max(s.high for s in group),
        low=min(s.low for s in group),
        volume=sum(s.volume for s in group),
        quote_volume=sum(s.quote_volume for s in group),
        trades=sum(s.trades for s in group),
        taker_buy_base_volume=sum(s.taker_buy_base_volume for s in group),
        taker_buy_quote_volume=sum(s.taker_buy_quote_volume for s in group),
        is_closed=last.is_closed and last.close_time == close_time,
    )


def klines(
    market: ReplayMarket,
    symbol: str,
    interval: str,
    *,
    start_time: int | None,
    end_time: int | None,
    limit: int,
) -> list[KlineState]:
    """What REST ``klines`` answers for any interval: the replayed one as sent, a longer one merged from
    the replayed candles (the forming one included) on Binance's alignment (weeks from Monday, months by
    the calendar). A finer interval than the replayed one answers -1120."""
    _check_interval(market, interval)
    if interval == market.interval:
        return market.klines(symbol, start_time=start_time, end_time=end_time, limit=limit)
    first = None if start_time is None else _bounds(start_time, interval)[0]
    base = market.klines(symbol, start_time=first, end_time=None, limit=10**9)
    merged: list[KlineState] = []
    group: list[KlineState] = []
    for state in base:
        if group and _bounds(state.open_time, interval)[0] != _bounds(group[0].open_time, interval)[0]:
            merged.append(_merge(group, interval))
            group = []
        group.append(state)
    if group:
        merged.append(_merge(group, interval))
    merged = [
        k
        for k in merged
        if (start_time is None or k.open_time >= start_time) and (end_time is None or k.open_time <= end_time)
    ]
    return merged[-limit:] if start_time is None else merged[:limit]


def ticker_24h(market: ReplayMarket, symbol: str) -> dict[str, object]:
    """``GET /fapi/v1/ticker/24hr`` of one symbol: the replayed candles of the last 24 hours up to the
    price sent last (times are the replay's)."""
    now = market.last_state.get(symbol)
    rows = market.klines(symbol, start_time=None, end_time=None, limit=10**9)
    if now is None and rows:
        now = rows[-1]
    end = now.event_time if now is not None and now.event_time else (rows[-1].close_time if rows else 0)
    window = [k for k in rows if k.open_time > end - _DAY_MS]
    fp = market.fmt_price
    if not window:
        zero = fp(symbol, 0.0)
        window_open, last, high, low = zero, zero, zero, zero
    else:
        window_open, last = fp(symbol, window[0].open), fp(symbol, window[-1].close)
        high, low = fp(symbol, max(k.high for k in window)), fp(symbol, min(k.low for k in window))
    volume = sum(k.volume for k in window)
    quote = sum(k.quote_volume for k in window)
    count = sum(k.trades for k in window)
    change = float(last) - float(window_open)
    percent = 100 * change / float(window_open) if float(window_open) else 0.0
    return {
        "symbol": symbol,
        "priceChange": fp(symbol, change),
        "priceChangePercent": f"{percent:.3f}",
        "weightedAvgPrice": fp(symbol, quote / volume if volume else 0.0),
        "lastPrice": last,
        "lastQty": market.rules[symbol].step_size,
        "openPrice": window_open,
        "highPrice": high,
        "lowPrice": low,
        "volume": f"{volume:.{market.rules[symbol].qty_decimals}f}",
        "quoteVolume": f"{quote:.2f}",
        "openTime": window[0].open_time if window else 0,
        "closeTime": end,
        "firstId": 1,
        "lastId": count,
        "count": count,
    }


def _replay_now(market: ReplayMarket, symbol: str) -> int:
    state = market.last_state.get(symbol)
    if state is not None:
        return state.event_time
    current = market.current_open_time()
    return int(market.grid[-1]) if current is None else current


def premium_index(market: ReplayMarket, symbol: str, now_ms: int) -> dict[str, object]:
    """``GET /fapi/v1/premiumIndex`` of one symbol. The fake has no separate index: mark, index and
    settle prices are the last price; funding is :data:`FUNDING_RATE` every 8 hours of replay time."""
    price = market.fmt_price(symbol, market.price(symbol))
    replay_now = _replay_now(market, symbol)
    return {
        "symbol": symbol,
        "markPrice": price,
        "indexPrice": price,
        "estimatedSettlePrice": price,
        "lastFundingRate": FUNDING_RATE,
        "interestRate": "0.00010000",
        "nextFundingTime": (replay_now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS,
        "time": now_ms,
    }


def funding_history(
    market: ReplayMarket, symbol: str, *, start_time: int | None, end_time: int | None, limit: int
) -> list[dict[str, object]]:
    """``GET /fapi/v1/fundingRate``: the settlements (every 8 hours) of the replayed past, oldest first,
    each with the mark price (the candle's open) at that time; the last ``limit`` without ``startTime``."""
    rows = market.klines(symbol, start_time=None, end_time=None, limit=10**9)
    out = []
    for k in rows:
        if k.open_time % FUNDING_INTERVAL_MS or (start_time is not None and k.open_time < start_time):
            continue
        if end_time is not None and k.open_time > end_time:
            continue
        out.append(
            {
                "symbol": symbol,
                "fundingRate": FUNDING_RATE,
                "fundingTime": k.open_time,
                "markPrice": f"{k.open:.8f}",
            }
        )
    return out[-limit:] if start_time is None else out[:limit]
