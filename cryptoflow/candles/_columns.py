"""Column vocabulary: canonical names, the aliases found in the wild, time-unit detection."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

PRICE_COLUMNS = ("open", "high", "low", "close")
OHLCV = (*PRICE_COLUMNS, "volume")
EXTRA_COLUMNS = (
    "close_time",
    "quote_volume",
    "trades",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
)
#: Column order of every loaded candle frame (``open_time`` is the index).
CANDLE_COLUMNS = (*OHLCV, *EXTRA_COLUMNS)

#: Binance's kline field order (REST ``/klines`` rows and the public data archive's CSV files).
BINANCE_KLINE_FIELDS = ("open_time", *OHLCV, *EXTRA_COLUMNS, "ignore")

_ALIASES: dict[str, tuple[str, ...]] = {
    # Order matters for open_time: an epoch column beats a formatted date (CryptoDataDownload has both).
    "open_time": ("open_time", "opentime", "unix", "timestamp", "open_timestamp", "time", "date", "datetime"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c"),
    "volume": ("volume", "vol", "v", "base_volume", "base_asset_volume"),
    "close_time": ("close_time", "closetime"),
    "quote_volume": ("quote_volume", "quote_asset_volume", "quoteassetvolume", "quote_av"),
    "trades": ("trades", "number_of_trades", "count", "tradecount", "trade_count", "num_trades"),
    "taker_buy_base_volume": (
        "taker_buy_base_volume",
        "taker_buy_base_asset_volume",
        "taker_buy_volume",
        "taker_base_vol",
    ),
    "taker_buy_quote_volume": (
        "taker_buy_quote_volume",
        "taker_buy_quote_asset_volume",
        "taker_quote_vol",
    ),
    "symbol": ("symbol", "ticker", "pair"),
    "ignore": ("ignore",),
}
_VOLUME_IN = re.compile(r"^volume_([a-z0-9]+)$")


def normalise_name(name: object) -> str:
    """``"Open time"`` -> ``"open_time"``: lowercase, runs of non-alphanumerics become one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def map_columns(columns: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Map source column names to canonical names.

    Returns ``(mapping, volumes_in)``: ``mapping`` is source name -> canonical name; ``volumes_in`` holds
    ``Volume <ASSET>`` columns (CryptoDataDownload) as asset -> source name, resolved later once the
    symbol is known.
    """
    normal = {col: normalise_name(col) for col in columns}
    mapping: dict[str, str] = {}
    for canonical, aliases in _ALIASES.items():
        for alias in aliases:
            source = next((col for col, norm in normal.items() if norm == alias and col not in mapping), None)
            if source is not None:
                mapping[source] = canonical
                break
    volumes_in: dict[str, str] = {}
    for col, norm in normal.items():
        match = _VOLUME_IN.match(norm)
        if match and col not in mapping:
            volumes_in[match.group(1).upper()] = col
    return mapping, volumes_in


def epoch_to_ms(values: np.ndarray) -> np.ndarray:
    """Epoch numbers in s, ms, µs or ns (told apart by magnitude, value by value) -> int64 epoch ms.

    Binance's public archive switched spot files to microseconds in 2025; CryptoDataDownload mixed
    seconds and milliseconds in one file. A magnitude test per value handles both.
    """
    values = np.asarray(values, dtype="float64")
    magnitude = np.abs(values)
    scaled = np.where(
        magnitude < 1e11,
        values * 1e3,
        np.where(magnitude < 1e14, values, np.where(magnitude < 1e17, values / 1e3, values / 1e6)),
    )
    return np.floor(scaled).astype("int64")


def datetimes_to_ms(values: pd.Series) -> pd.Series:
    """Timezone-aware datetimes -> int64 epoch ms."""
    return (values - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)


def normalise_symbol(raw: str) -> str:
    """``"ETH/USDT"``, ``"eth-usdt"``, ``"ETH/USDT:USDT"`` -> ``"ETHUSDT"``."""
    return re.sub(r"[^A-Z0-9]", "", str(raw).split(":")[0].upper())
