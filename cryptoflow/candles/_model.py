"""The candle model and interval arithmetic."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from cryptoflow.errors import DataError

_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_INTERVAL = re.compile(r"^(\d+)([smhdw])$")

#: The kline intervals Binance publishes (``1M``, a calendar month, has no fixed length and is not supported).
BINANCE_INTERVALS: tuple[str, ...] = (
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
)  # fmt: skip

# Binance's weekly candles open on Monday 00:00 UTC; the Unix epoch was a Thursday.
WEEK_OFFSET_MS = 4 * 86_400_000


def interval_ms(interval: str) -> int:
    """Length of a kline interval in milliseconds.

    >>> interval_ms("5m")
    300000

    Raises :class:`~cryptoflow.errors.DataError` for anything that is not ``<n>s|m|h|d|w``.
    """
    match = _INTERVAL.match(interval) if isinstance(interval, str) else None
    if not match or int(match.group(1)) <= 0:
        raise DataError(
            f"unknown candle interval {interval!r}: expected a number and a unit s, m, h, d or w "
            f"(Binance's are {', '.join(BINANCE_INTERVALS)})"
        )
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def interval_name(milliseconds: int) -> str | None:
    """The Binance name of an interval length (``300000 -> "5m"``); None if Binance has none."""
    for name in BINANCE_INTERVALS:
        if interval_ms(name) == milliseconds:
            return name
    return None


def bucket_start(open_time_ms: int, interval: str) -> int:
    """Open time (epoch ms) of the ``interval`` candle containing ``open_time_ms``, aligned like Binance."""
    step = interval_ms(interval)
    offset = WEEK_OFFSET_MS if interval.endswith("w") else 0
    return (open_time_ms - offset) // step * step + offset


@dataclass(frozen=True, slots=True)
class Candle:
    """One kline: prices and volumes of ``symbol`` over ``[open_time, close_time]``.

    Times are UTC epoch milliseconds; ``close_time`` is Binance's (``open_time + interval - 1``).
    ``is_closed`` is False for the still-open candle of a live stream.

    >>> Candle("ETHUSDT", "5m", 1755616200000, 1755616499999, 4194.1, 4196.41, 4184.53, 4186.51, 4454.1)
    ... # doctest: +ELLIPSIS
    Candle(symbol='ETHUSDT', interval='5m', ...)
    """

    symbol: str
    interval: str
    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    quote_volume: float = 0.0
    trades: int = 0
    taker_buy_base_volume: float = 0.0
    taker_buy_quote_volume: float = 0.0
    is_closed: bool = True

    @classmethod
    def from_kline(cls, row: Sequence[Any], symbol: str, interval: str, *, is_closed: bool = True) -> Candle:
        """Build a candle from one row of Binance's REST ``/klines`` answer (12 fields)."""
        return cls(
            symbol=symbol,
            interval=interval,
            open_time=int(row[0]),
            close_time=int(row[6]),
            open=float(row[1]),
            high=float(row[2]),
            low=float(row[3]),
            close=float(row[4]),
            volume=float(row[5]),
            quote_volume=float(row[7]),
            trades=int(row[8]),
            taker_buy_base_volume=float(row[9]),
            taker_buy_quote_volume=float(row[10]),
            is_closed=is_closed,
        )

    @classmethod
    def from_ws(cls, kline: Mapping[str, Any]) -> Candle:
        """Build a candle from the ``k`` object of a Binance ``<symbol>@kline_<interval>`` websocket event."""
        return cls(
            symbol=str(kline["s"]),
            interval=str(kline["i"]),
            open_time=int(kline["t"]),
            close_time=int(kline["T"]),
            open=float(kline["o"]),
            high=float(kline["h"]),
            low=float(kline["l"]),
            close=float(kline["c"]),
            volume=float(kline["v"]),
            quote_volume=float(kline["q"]),
            trades=int(kline["n"]),
            taker_buy_base_volume=float(kline["V"]),
            taker_buy_quote_volume=float(kline["Q"]),
            is_closed=bool(kline["x"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The candle as a plain dict (field name -> value)."""
        return asdict(self)
