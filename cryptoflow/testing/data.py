"""The shared real candle files (``../shared/data``, see :func:`cryptoflow.candles.shared_data_dir`) for
tests that read every one of them, and a marker skipping those tests where the files are absent.
Needs pytest."""

from __future__ import annotations

import pytest

from cryptoflow.candles import shared_data_dir

__all__ = ["SHARED_DATA", "SHARED_FILES", "needs_shared_data"]

SHARED_DATA = shared_data_dir()
"""The folder of the shared real candles (``$CRYPTOFLOW_SHARED_DATA`` overrides it)."""

SHARED_FILES = sorted(SHARED_DATA.glob("*.csv")) if SHARED_DATA.is_dir() else []
"""Every ``.csv`` file in :data:`SHARED_DATA`, sorted; empty when the folder is missing."""

needs_shared_data = pytest.mark.skipif(not SHARED_FILES, reason=f"no shared candle files in {SHARED_DATA}")
"""Skips a test (or a module: ``pytestmark = needs_shared_data``) when there are no shared files."""
