"""A backtest without a report does not load plotly: the report's names load it on first use."""

from __future__ import annotations

import subprocess
import sys

_SCRIPT = """
import sys
import numpy as np, pandas as pd
from backtesting import BacktestConfig, run_backtest

index = pd.date_range("2024-01-01", periods=500, freq="1h", tz="UTC", name="open_time")
close = 100.0 * np.exp(np.cumsum(np.random.default_rng(1).normal(0.0, 0.01, 500)))
candles = pd.DataFrame(
    {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1.0}, index=index
)
run_backtest(candles, "custom", BacktestConfig())
print("plotly" in sys.modules)
from backtesting import write_report
print("plotly" in sys.modules, callable(write_report))
"""


def test_plotly_loads_only_when_a_report_name_is_read():
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["False", "True", "True"]
