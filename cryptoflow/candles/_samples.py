"""The real candle samples shipped inside the package (``cryptoflow/data/samples``) and the location of
the larger shared set (``../shared/data``) that tests and benchmarks read."""

from __future__ import annotations

import os
from pathlib import Path

from cryptoflow.errors import DataError

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "data" / "samples"
SHARED_DATA_ENV = "CRYPTOFLOW_SHARED_DATA"
_SAMPLES = {
    ("ETHUSDT", "5m"): "ETHUSDT_5m_2025-08-20_2025-09-09.csv.gz",
    ("ETHUSDT", "1h"): "ETHUSDT_1h_2023-02_2023-04.csv.gz",
    ("BTCUSDT", "5m"): "BTCUSDT_5m_2025-08-20_2025-09-02.csv.gz",
    ("SOLUSDT", "5m"): "SOLUSDT_5m_2025-08-20_2025-09-02.csv.gz",
}


def sample_path(interval: str = "5m", symbol: str = "ETHUSDT") -> Path:
    """Path of a shipped real sample: ETHUSDT ``"5m"`` (3 weeks of 2025) and ``"1h"`` (Feb-Apr 2023 with
    the 2023-03-24 trading halt); BTCUSDT and SOLUSDT ``"5m"`` (the first 2 of those 3 weeks, same minutes).
    Provenance: ``cryptoflow/data/samples/README.md``."""
    if (symbol, interval) not in _SAMPLES:
        shipped = ", ".join(f"{sym} {ival}" for sym, ival in _SAMPLES)
        raise DataError(f"no shipped sample for {symbol} {interval}: samples exist for {shipped}")
    return SAMPLES_DIR / _SAMPLES[(symbol, interval)]


def sample_symbols(interval: str = "5m") -> list[str]:
    """The symbols with a shipped sample at ``interval`` (for multi-symbol demos)."""
    return [symbol for symbol, ival in _SAMPLES if ival == interval]


def shared_data_dir() -> Path:
    """The folder of the shared real candle files (see its README): ``$CRYPTOFLOW_SHARED_DATA`` when set,
    else ``shared/data`` beside the checkout (``<checkout>/../shared/data``). The folder may not exist:
    callers decide whether that skips, fails or asks for another path.

    >>> shared_data_dir() / "ETHUSDT_5m_2025-08.csv"  # doctest: +SKIP
    PosixPath('/work/shared/data/ETHUSDT_5m_2025-08.csv')
    """
    given = os.environ.get(SHARED_DATA_ENV)
    if given:
        return Path(given)
    return Path(__file__).resolve().parents[3] / "shared" / "data"
