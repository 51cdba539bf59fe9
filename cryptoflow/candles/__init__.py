"""Candles: the model, loading and validation of candle files, and resampling (downloads from Binance:
:func:`cryptoflow.binance.download_candles`).

>>> from cryptoflow.candles import load_candles
>>> candles = load_candles("ETHUSDT_5m_2025-08.csv")  # doctest: +SKIP
"""

from cryptoflow.candles._columns import BINANCE_KLINE_FIELDS, CANDLE_COLUMNS
from cryptoflow.candles._load import load_candles, read_candles
from cryptoflow.candles._model import BINANCE_INTERVALS, Candle, bucket_start, interval_ms
from cryptoflow.candles._resample import resample_candles
from cryptoflow.candles._samples import sample_path, sample_symbols, shared_data_dir
from cryptoflow.candles._validate import Gap, LoadReport, iso

__all__ = [
    "BINANCE_INTERVALS",
    "BINANCE_KLINE_FIELDS",
    "CANDLE_COLUMNS",
    "Candle",
    "Gap",
    "LoadReport",
    "bucket_start",
    "interval_ms",
    "iso",
    "load_candles",
    "read_candles",
    "resample_candles",
    "sample_path",
    "sample_symbols",
    "shared_data_dir",
]
