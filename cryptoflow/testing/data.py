"""The shared real candle files (``../shared/data``, see :func:`cryptoflow.candles.shared_data_dir`) for
tests that read every one of them, and a marker skipping those tests where the files are absent.
Needs pytest."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from cryptoflow.candles import load_candles, shared_data_dir

__all__ = ["SHARED_DATA", "SHARED_FILES", "candles_of", "needs_shared_data"]

SHARED_DATA = shared_data_dir()
"""The folder of the shared real candles (``$CRYPTOFLOW_SHARED_DATA`` overrides it)."""

SHARED_FILES = sorted(SHARED_DATA.glob("*.csv")) if SHARED_DATA.is_dir() else []
"""Every ``.csv`` file in :data:`SHARED_DATA`, sorted; empty when the folder is missing."""

needs_shared_data = pytest.mark.skipif(not SHARED_FILES, reason=f"no shared candle files in {SHARED_DATA}")
"""Skips a test (or a module: ``pytestmark = needs_shared_data``) when there are no shared files."""


@cache
def candles_of(path: Path) -> pd.DataFrame:
    """The candles of ``path``, loaded once per test session (the loader's gap notes are not logged)."""
    logging.getLogger("cryptoflow.candles").setLevel(logging.ERROR)
    try:
        return load_candles(path)
    finally:
        logging.getLogger("cryptoflow.candles").setLevel(logging.NOTSET)
