"""Where the shared real candles live: ``../shared/data`` or $CRYPTOFLOW_SHARED_DATA."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get("CRYPTOFLOW_SHARED_DATA", Path(__file__).parents[2].parent / "shared" / "data")
)
SHARED_FILES = sorted(SHARED_DATA.glob("*.csv")) if SHARED_DATA.is_dir() else []

needs_shared_data = pytest.mark.skipif(not SHARED_FILES, reason=f"no shared candle files in {SHARED_DATA}")
