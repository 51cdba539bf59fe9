"""``cryptoflow exchange serve``: its help says what each side serves, and a bad option is a usage error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptoflow.testing.services import clean_env


def _serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cryptoflow", "exchange", "serve", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(COLUMNS="200"),
    )


def test_help_names_what_spot_and_futures_serve() -> None:
    result = _serve("--help")
    text = " ".join(result.stdout.split())
    assert result.returncode == 0
    for promise in ("algoOrder", "premiumIndex", "listenKey", "Spot, public", "myTrades", "--volume-share"):
        assert promise in text, promise


def test_volume_share_out_of_range_is_a_usage_error(shared_data: Path) -> None:
    result = _serve("--data", str(shared_data / "ETHUSDT_5m_2025-08.csv"), "--volume-share", "2")
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2 and "--volume-share must be in (0, 1], got 2.0" in output
    assert "Traceback" not in output
