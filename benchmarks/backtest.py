"""Backtest speed: our engine against backtesting.py on the same generated candles.

    python -m benchmarks.backtest --json OUT

Runs, in one go and on this machine:

- ``ours_200k_s``: ``run_backtest`` (indicators included, ``ta`` preset) of the ``custom`` strategy over
  200,000 generated 5m candles with the ``intrabar`` fill model (entries at the next open, stop-loss
  and take-profit on high/low) — the model backtesting.py uses;
- ``backtesting_py_200k_s``: backtesting.py (from PyPI, in an isolated virtual environment under
  ``~/.cache/cryptoflow/bench-venv`` because our ``backtesting`` package shadows its name) running the
  same strategy on the same candles, its RSI (Wilder) and engulfing computed in its ``init``;
- ``ours_1m_s``: our engine alone on 1,000,000 candles.

Each figure is the best of ``--repeat`` runs after a warm-up (numba compiles once, cached on disk).
Trade counts can differ slightly: backtesting.py sizes in whole units and places its stop/take-profit
from the signal candle's close, we place them from the fill price.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

VENV = Path(os.environ.get("CRYPTOFLOW_BENCH_VENV", Path.home() / ".cache" / "cryptoflow" / "bench-venv"))
SEED = 20230601

_PEER_SCRIPT = r"""
import json, sys, time, warnings
import numpy as np, pandas as pd
from backtesting import Backtest, Strategy
import backtesting as _bt

warnings.filterwarnings("ignore")
arrays = np.load(sys.argv[1])
frame = pd.DataFrame(
    {"Open": arrays["open"], "High": arrays["high"], "Low": arrays["low"], "Close": arrays["close"],
     "Volume": arrays["volume"]},
    index=pd.to_datetime(arrays["open_time"], unit="ms"),
)

def rsi(close, period=14):
    delta = pd.Series(close).diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / period, adjust=False, min_periods=period).mean()
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / period, adjust=False, min_periods=period).mean()
    return (100 - 100 / (1 + gain / loss)).to_numpy()

def engulfing(open_, close):
    o, c = np.asarray(open_), np.asarray(close)
    po, pc = np.r_[np.nan, o[:-1]], np.r_[np.nan, c[:-1]]
    bull = (c > o) & (pc < po) & (pc >= o) & (po <= c)
    bear = (c < o) & (pc > po) & (pc <= o) & (po >= c)
    return np.where(bull, 1.0, np.where(bear, -1.0, 0.0))

class Custom(Strategy):
    def init(self):
        self.rsi = self.I(rsi, self.data.Close)
        self.engulf = self.I(engulfing, self.data.Open, self.data.Close)

    def next(self):
        if self.position:
            return
        close = self.data.Close[-1]
        if self.engulf[-1] == 1 and self.rsi[-1] < 25:
            self.buy(sl=close * 0.985, tp=close * 1.03)
        elif self.engulf[-1] == -1 and self.rsi[-1] > 70:
            self.sell(sl=close * 1.015, tp=close * 0.97)

best, trades = None, None
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    stats = Backtest(frame, Custom, cash=1e9, commission=0.0004).run()
    elapsed = time.perf_counter() - start
    best = elapsed if best is None else min(best, elapsed)
    trades = int(stats["# Trades"])
print(json.dumps({"seconds": best, "trades": trades, "version": getattr(_bt, "__version__", "?")}))
"""


def generate_candles(n: int, seed: int = SEED) -> pd.DataFrame:
    """``n`` 5m candles of a seeded random walk (log-returns N(0, 0.25 %)), with realistic wicks."""
    rng = np.random.default_rng(seed)
    close = 2000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0025, n)))
    open_ = np.r_[2000.0, close[:-1]]
    body_high, body_low = np.maximum(open_, close), np.minimum(open_, close)
    high = body_high * (1.0 + np.abs(rng.normal(0.0, 0.0015, n)))
    low = body_low * (1.0 - np.abs(rng.normal(0.0, 0.0015, n)))
    volume = rng.gamma(2.0, 500.0, n)
    index = pd.date_range("2020-01-01", periods=n, freq="5min", tz="UTC", name="open_time")
    frame = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )
    frame.attrs.update(symbol="SYNTHUSDT", interval="5m")
    return frame


def time_ours(candles: pd.DataFrame, repeat: int) -> tuple[float, int]:
    """Best wall time of ``run_backtest`` (indicators included) and its trade count."""
    from backtesting import BacktestConfig, run_backtest

    config = BacktestConfig(fill="intrabar")
    run_backtest(candles.iloc[:5000], "custom", config)  # warm-up: numba compile / cache load
    best, trades = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = run_backtest(candles, "custom", config)
        best = min(best, time.perf_counter() - start)
        trades = len(result.trades)
    return best, trades


def _ensure_peer_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV} and installing backtesting.py from PyPI ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "backtesting", "pandas", "numpy"], check=True
        )
    return python


def time_backtesting_py(candles: pd.DataFrame, repeat: int) -> dict[str, object]:
    """Run backtesting.py in its own venv on the same candles; seconds, trades and version."""
    python = _ensure_peer_venv()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "candles.npz"
        np.savez(
            data,
            open_time=candles.index.asi8 // 1_000_000,
            **{c: candles[c].to_numpy() for c in ("open", "high", "low", "close", "volume")},
        )
        script = Path(tmp) / "peer.py"
        script.write_text(_PEER_SCRIPT)
        proc = subprocess.run(
            [str(python), str(script), str(data), str(repeat)],
            capture_output=True,
            text=True,
            cwd=tmp,  # keep our own `backtesting` package off its path
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"backtesting.py run failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="Also write the result JSON to this file.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs per measurement (best is kept).")
    parser.add_argument("--skip-peer", action="store_true", help="Do not run backtesting.py.")
    args = parser.parse_args(argv)

    warnings.simplefilter("ignore")
    candles_1m = generate_candles(1_000_000)
    candles_200k = candles_1m.iloc[:200_000].copy()
    candles_200k.attrs.update(candles_1m.attrs)

    ours_200k_s, ours_200k_trades = time_ours(candles_200k, args.repeat)
    ours_1m_s, ours_1m_trades = time_ours(candles_1m, args.repeat)
    result: dict[str, object] = {
        "strategy": "custom",
        "fill_model": "intrabar",
        "indicator_preset": "ta",
        "candles_seed": SEED,
        "ours_200k_s": round(ours_200k_s, 4),
        "ours_200k_trades": ours_200k_trades,
        "ours_1m_s": round(ours_1m_s, 4),
        "ours_1m_trades": ours_1m_trades,
        "backtesting_py_200k_s": None,
        "backtesting_py_200k_trades": None,
        "speedup_vs_backtesting_py": None,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
    }
    if not args.skip_peer:
        try:
            peer = time_backtesting_py(candles_200k, args.repeat)
        except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
            result["backtesting_py_error"] = str(exc)
        else:
            result["backtesting_py_200k_s"] = round(float(peer["seconds"]), 4)
            result["backtesting_py_200k_trades"] = peer["trades"]
            result["backtesting_py_version"] = peer["version"]
            result["speedup_vs_backtesting_py"] = round(float(peer["seconds"]) / ours_200k_s, 1)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
