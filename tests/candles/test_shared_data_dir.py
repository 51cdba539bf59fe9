"""Where the shared real candles are looked for: one locator, overridable by environment."""

from __future__ import annotations

from pathlib import Path

import pytest

import cryptoflow
from cryptoflow.candles import shared_data_dir


def test_the_folder_beside_the_checkout_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRYPTOFLOW_SHARED_DATA", raising=False)
    checkout = Path(cryptoflow.__file__).resolve().parents[1]
    assert shared_data_dir() == checkout.parent / "shared" / "data"


def test_the_environment_overrides_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CRYPTOFLOW_SHARED_DATA", str(tmp_path / "candles"))
    assert shared_data_dir() == tmp_path / "candles"  # returned even before it exists
