"""Optimiser speed: trials a second on one job and on every core, against backtesting.py's optimize.

    python -m benchmarks.optimize --json OUT [--repeat 3] [--skip-peers]

The work: one year of generated 5m candles (:mod:`benchmarks._generate`, seed 42: 105,120 candles), the
``custom`` strategy (engulfing with RSI extremes, intrabar fills, stop-loss 1.5 %, take-profit 3 %, fee
0.04 %), the grid ``rsi_period`` 8, 10, ..., 22 x ``rsi_oversold`` 15, 20, ..., 35 x ``rsi_overbought`` 65,
70, ..., 85 (200 trials; the RSI is recomputed for each trial's period), ranked by the Sharpe ratio.

- ``trials_per_s_1_job``: :func:`backtesting.optimize` with ``jobs=1`` (a study in memory): 200 trials
  over the whole optimize call (the warm-up run and the indicators of the eight periods included); each
  trial backtests the training 70 % and the test 30 %, the whole year in all;
- ``trials_per_s_all_jobs``: the same with ``jobs`` = every core (forked workers sharing a journal file);
- ``backtesting_py_trials_per_s``: backtesting.py's ``Backtest.optimize`` on the same grid and candles,
  40 combinations of it drawn at random (``max_tries``: it takes seconds a trial; its rate a trial is
  what is compared), its RSI and engulfing computed in ``init``, in its own virtual environment (our
  ``backtesting`` package shadows its name), on one process (``backtesting.Pool`` of one worker), the
  import outside the timing;
- ``all_jobs_vs_1_job`` and ``1_job_vs_backtesting_py``: the ratios.

Figures are medians of ``--repeat`` runs (ours interleaved: one job, all jobs), every run listed under
``runs_s``. The machine is shared: compare the ratios, measured in the same run, rather than the absolute
figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._generate import generate_candles
from benchmarks._output import emit_json
from benchmarks.backtest import VENV, ensure_venv

CANDLES = 105_120  # a year of 5m candles
SEED = 42
GRID = {
    "rsi_period": [8, 10, 12, 14, 16, 18, 20, 22],
    "rsi_oversold": [15, 20, 25, 30, 35],
    "rsi_overbought": [65, 70, 75, 80, 85],
}
TRIALS = 8 * 5 * 5
PEER_TRIALS = 40  # backtesting.py takes seconds a trial: a random part of the same grid

_BACKTESTING_PY_SCRIPT = r"""
import json, sys, time, warnings
import multiprocessing
import numpy as np, pandas as pd
import backtesting
from backtesting import Backtest, Strategy

warnings.filterwarnings("ignore")
backtesting.Pool = lambda processes=None, initializer=None, initargs=(): multiprocessing.get_context(
    "fork").Pool(1, initializer, initargs)  # one worker: a trial's cost, as our one job
arrays = np.load(sys.argv[1])
frame = pd.DataFrame(
    {"Open": arrays["open"], "High": arrays["high"], "Low": arrays["low"], "Close": arrays["close"],
     "Volume": arrays["volume"]},
    index=pd.to_datetime(arrays["open_time"], unit="ms"),
)

def rsi(close, period):
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
    rsi_period = 14
    rsi_oversold = 25
    rsi_overbought = 70

    def init(self):
        self.rsi = self.I(rsi, self.data.Close, self.rsi_period)
        self.engulf = self.I(engulfing, self.data.Open, self.data.Close)

    def next(self):
        if self.position:
            return
        close = self.data.Close[-1]
        if self.engulf[-1] == 1 and self.rsi[-1] < self.rsi_oversold:
            self.buy(sl=close * 0.985, tp=close * 1.03)
        elif self.engulf[-1] == -1 and self.rsi[-1] > self.rsi_overbought:
            self.sell(sl=close * 1.015, tp=close * 0.97)

grid = json.loads(sys.argv[2])
bt = Backtest(frame, Custom, cash=1e9, commission=0.0004)
start = time.perf_counter()
stats = bt.optimize(**grid, maximize="Sharpe Ratio", max_tries=int(sys.argv[3]), random_state=0)
print(json.dumps({"seconds": time.perf_counter() - start, "version": backtesting.__version__}))
"""


def _ours(candles: Any, jobs: int) -> float:
    from backtesting import OptimizeSettings, StudySettings, optimize

    settings = OptimizeSettings(space=GRID, sampler="grid", losses=("sharpe",))
    start = time.perf_counter()
    result = optimize(candles, "custom", settings, study=StudySettings(jobs=jobs))
    seconds = time.perf_counter() - start
    assert len(result.table) == TRIALS, len(result.table)
    return seconds


def _backtesting_py(data: Path) -> dict[str, Any]:
    python = ensure_venv(VENV, "backtesting", "pandas", "numpy")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "backtesting_py_optimize.py"
        script.write_text(_BACKTESTING_PY_SCRIPT)
        proc = subprocess.run(
            [str(python), str(script), str(data), json.dumps(GRID), str(PEER_TRIALS)],
            capture_output=True, text=True, cwd=tmp, check=True,
        )  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the result here too")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-peers", action="store_true", help="measure ours only")
    args = parser.parse_args(argv)
    from backtesting import default_jobs

    generated = generate_candles(CANDLES, seed=SEED, interval="5m")
    candles = generated[["open", "high", "low", "close", "volume"]].copy()
    candles.attrs.update(generated.attrs)
    jobs = default_jobs()
    _ours(candles.iloc[:20_000], 1)  # compile the loop and the indicators outside the timing
    runs: dict[str, list[float]] = {"1_job": [], "all_jobs": []}
    for _ in range(args.repeat):
        runs["1_job"].append(_ours(candles, 1))
        runs["all_jobs"].append(_ours(candles, jobs))
    one, every = statistics.median(runs["1_job"]), statistics.median(runs["all_jobs"])
    result: dict[str, Any] = {
        "candles": CANDLES,
        "trials": TRIALS,
        "jobs": jobs,
        "trials_per_s_1_job": round(TRIALS / one, 2),
        "trials_per_s_all_jobs": round(TRIALS / every, 2),
        "all_jobs_vs_1_job": round(one / every, 2),
        "runs_s": {k: [round(v, 3) for v in values] for k, values in runs.items()},
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
    }
    if not args.skip_peers:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "candles.npz"
            open_time = (candles.index.asi8 // 1_000_000).astype(np.int64)
            np.savez(data, open_time=open_time, **{k: candles[k].to_numpy() for k in candles.columns})
            peer = _backtesting_py(data)
        result["backtesting_py_version"] = peer["version"]
        peer_rate = PEER_TRIALS / peer["seconds"]
        result["backtesting_py_trials"] = PEER_TRIALS
        result["backtesting_py_trials_per_s"] = round(peer_rate, 3)
        result["1_job_vs_backtesting_py"] = round(TRIALS / one / peer_rate, 1)
        result["runs_s"]["backtesting_py"] = [round(peer["seconds"], 3)]
    emit_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
