"""The real candle samples shipped inside the package (``cryptoflow/data/samples``)."""

from __future__ import annotations

from pathlib import Path

from cryptoflow.errors import DataError

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "data" / "samples"
_SAMPLES = {
    "5m": "ETHUSDT_5m_2025-08-20_2025-09-09.csv.gz",
    "1h": "ETHUSDT_1h_2023-02_2023-04.csv.gz",
}


def sample_path(interval: str = "5m") -> Path:
    """Path of the shipped ETHUSDT sample for ``interval`` (``"5m"``: 3 weeks of 2025, ``"1h"``: Feb-Apr
    2023 with the 2023-03-24 trading halt). Provenance: ``cryptoflow/data/samples/README.md``."""
    if interval not in _SAMPLES:
        raise DataError(f"no shipped sample for {interval!r}: samples exist for {', '.join(_SAMPLES)}")
    return SAMPLES_DIR / _SAMPLES[interval]
