"""Backtest speed and memory: our engine against vectorbt's Rust and Numba engines and backtesting.py.

    python -m benchmarks.backtest --json OUT [--repeat 5] [--skip-peers]

The work, the same in every engine: 1,000,000 generated 1m candles (:mod:`benchmarks._generate`, seed
42; open, high, low, close and volume: 40 MB), the ``custom`` strategy (bullish engulfing with RSI 14 <
25 long, bearish engulfing with RSI > 70 short; RSI with Wilder's smoothing, the ``ta`` preset),
intrabar fills (decided on a candle's close, filled at the next open; stop-loss 1.5 % and take-profit
3 % from the fill price, on high/low from the entry candle on), a fee of 0.04 % per side, indicators
computed inside the timed run.

- ``ours_1m_s``: :func:`backtesting.run_backtest`, statistics included;
- ``vectorbt_rust_1m_s`` / ``vectorbt_numba_1m_s``: ``vectorbt[rust]`` (PyPI) with
  ``vbt.settings["engine"]`` set to ``"rust"`` / ``"numba"``: ``vbt.RSI`` (EWM of span 27, which is
  Wilder's 1/14), engulfing in numpy, ``Portfolio.from_signals`` with the signals shifted to the next
  open, the number of closed trades and the final value;
- ``backtesting_py_1m_s``: backtesting.py (PyPI), its RSI and engulfing computed in ``init``.

Each peer runs in its own virtual environment under ``~/.cache/cryptoflow`` (our ``backtesting``
package shadows backtesting.py's name; vectorbt needs pandas 3), as one worker process started once
(imports and JIT compilation stay outside the timing) and driven over stdin, so the runs interleave:
ours, vectorbt Rust, vectorbt Numba, backtesting.py, ``--repeat`` times. Figures are medians; every run
is listed under ``runs_s``. Trade counts must match ours (``*_trades``); final equities are reported with
their relative difference from ours (``*_final_equity_rel_diff``): vectorbt takes the fee out of the
position's size and backtesting.py buys whole units, so equities differ by a little.

``backtest_1m_peak_rss_mb`` is the peak resident memory (``VmHWM``) of a fresh process that imports
cryptoflow, loads the 40 MB of candles and runs one backtest; ``backtest_1m_rss_at_start_mb`` is that
process's resident memory before the backtest (imports and candles): the difference is what the backtest
itself needs. ``backtest_1m_rss_file_mb`` is the part of that process's resident memory, after the run,
that is pages of files (the shared libraries of numba's LLVM, pyarrow, numpy ...). How many of those pages
a process maps is not the code's doing alone (the kernel maps cached pages around each fault): on the
machine of 2026-12-03 a freshly installed virtual environment mapped 70-90 MB more of them than an older one
with the same versions, both fully cached (peak 366 against 294 MB, same code). Compare peaks measured with
the same environment. The peers' ``*_peak_rss_mb`` are their workers' peak after all their runs.
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
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._generate import generate_candles
from benchmarks._output import emit_json

CACHE = Path.home() / ".cache" / "cryptoflow"
VENV = Path(os.environ.get("CRYPTOFLOW_BENCH_VENV", CACHE / "bench-venv"))
VECTORBT_VENV = Path(os.environ.get("CRYPTOFLOW_BENCH_VECTORBT_VENV", CACHE / "bench-venv-vectorbt"))
VECTORBT = "vectorbt[rust]==1.2.0"
CANDLES = 1_000_000
SEED = 42
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")

# A peer worker: loads the candles, warms up, then times one run per line on stdin; at EOF prints its
# peak RSS. Each answer is one JSON line on stdout. The script before it defines run() and warm_up().
_WORKER_LOOP = r"""
def _peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None

warm_up()
print(json.dumps({"ready": True, "version": VERSION}), flush=True)
for _ in sys.stdin:
    start = time.perf_counter()
    trades, final = run()
    print(json.dumps({"seconds": time.perf_counter() - start, "trades": trades, "final": final}), flush=True)
print(json.dumps({"peak_rss_mb": _peak_rss_mb()}), flush=True)
"""

_VECTORBT_SCRIPT = r"""
import json, sys, time, warnings
import numpy as np, pandas as pd
import vectorbt as vbt

warnings.filterwarnings("ignore")
vbt.settings["engine"] = sys.argv[2]
VERSION = vbt.__version__
arrays = np.load(sys.argv[1])
index = pd.to_datetime(arrays["open_time"], unit="ms")
o, h, l, c = (arrays[k] for k in ("open", "high", "low", "close"))

def run():
    rsi = vbt.RSI.run(c, window=27, ewm=True, adjust=False).rsi.to_numpy()  # span 27 = alpha 1/14
    po, pc = np.r_[np.nan, o[:-1]], np.r_[np.nan, c[:-1]]
    bull = (c > o) & (pc < po) & (pc >= o) & (po <= c)
    bear = (c < o) & (pc > po) & (pc <= o) & (po >= c)
    long_ = bull & (rsi < 25)
    short = ~long_ & bear & (rsi > 70)
    pf = vbt.Portfolio.from_signals(
        pd.Series(c, index=index),
        entries=np.r_[False, long_[:-1]],  # decided on a close, filled at the next open
        short_entries=np.r_[False, short[:-1]],
        price=o, open=o, high=h, low=l,
        sl_stop=0.015, tp_stop=0.03, stop_entry_price="fillprice", stop_exit_price="stoplimit",
        fees=0.0004, init_cash=10_000.0, size=np.inf, upon_opposite_entry="ignore", accumulate=False,
        freq="1min",
    )
    return int(pf.trades.closed.count()), float(pf.final_value())

warm_up = run  # numba compiles (or loads its cache) on the first run
"""

_BACKTESTING_PY_SCRIPT = r"""
import json, sys, time, warnings
import numpy as np, pandas as pd
from backtesting import Backtest, Strategy
import backtesting as _bt

warnings.filterwarnings("ignore")
VERSION = getattr(_bt, "__version__", "?")
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
        close = self.data.Close[-1]  # the next open of these candles: stops from the fill price
        if self.engulf[-1] == 1 and self.rsi[-1] < 25:
            self.buy(sl=close * 0.985, tp=close * 1.03)
        elif self.engulf[-1] == -1 and self.rsi[-1] > 70:
            self.sell(sl=close * 1.015, tp=close * 0.97)

CASH = 1e9  # whole units: a large account keeps the rounding of the size negligible

def run(data=frame):
    stats = Backtest(data, Custom, cash=CASH, commission=0.0004).run()
    return int(stats["# Trades"]), float(stats["Equity Final [$]"]) / CASH * 10_000.0

def warm_up():
    run(frame.iloc[:5000])
"""

_MEMORY_SCRIPT = r"""
import json, sys, warnings
import numpy as np, pandas as pd
from backtesting import BacktestConfig, run_backtest

warnings.filterwarnings("ignore")

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024

arrays = np.load(sys.argv[1])
index = pd.DatetimeIndex(pd.to_datetime(arrays["open_time"], unit="ms", utc=True), name="open_time")
columns = {k: arrays[k] for k in ("open", "high", "low", "close", "volume")}
candles = pd.DataFrame(columns, index=index, copy=False)  # no copy: 40 MB, as loaded
del columns
candles.attrs.update(symbol="SYNTHUSDT", interval="1m")
del arrays
at_start = status("VmRSS")
result = run_backtest(candles, "custom", BacktestConfig(fill="intrabar"))
print(json.dumps({
    "peak": status("VmHWM"), "at_start": at_start, "file": status("RssFile"), "trades": len(result.trades)
}))
"""


def benchmark_candles() -> pd.DataFrame:
    """The million 1m candles every engine runs on: open, high, low, close, volume (40 MB)."""
    full = generate_candles(CANDLES, seed=SEED)
    candles = full[list(PRICE_COLUMNS)].copy()
    candles.attrs.update(full.attrs)
    return candles


def ensure_venv(path: Path, *packages: str) -> Path:
    python = path / "bin" / "python"
    if not python.exists():
        print(f"creating {path} and installing {', '.join(packages)} from PyPI ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *packages], check=True)
    return python


class Peer:
    """A peer engine's worker process: ``run()`` times one backtest, ``close()`` returns its peak RSS."""

    def __init__(self, name: str, python: Path, script: Path, *args: str, cwd: Path) -> None:
        self.name = name
        self._stderr = cwd / f"{name}.stderr"  # a file, not a pipe: a chatty peer cannot block on it
        with self._stderr.open("w") as stderr:
            # cwd: keep our own `backtesting` package off the peer's path
            self._proc = subprocess.Popen(
                [str(python), str(script), *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                cwd=cwd,
            )
        try:
            self.version = str(self._answer().get("version"))
        except RuntimeError:
            self.kill()
            raise

    def _answer(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._proc.wait(timeout=60)
            raise RuntimeError(f"{self.name} worker failed: {self._stderr.read_text()[-2000:]}")
        return dict(json.loads(line))

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=60)

    def run(self) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write("run\n")
        self._proc.stdin.flush()
        return self._answer()

    def close(self) -> float | None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        peak = self._answer().get("peak_rss_mb")
        self._proc.wait(timeout=60)
        return None if peak is None else float(peak)


def _start_peers(data: Path, tmp: Path, result: dict[str, Any]) -> list[Peer]:
    peers: list[Peer] = []
    vectorbt = tmp / "vectorbt_peer.py"
    vectorbt.write_text(_VECTORBT_SCRIPT + _WORKER_LOOP)
    backtesting_py = tmp / "backtesting_py_peer.py"
    backtesting_py.write_text(_BACKTESTING_PY_SCRIPT + _WORKER_LOOP)
    starts = [
        ("vectorbt_rust", lambda: ensure_venv(VECTORBT_VENV, VECTORBT), vectorbt, ("rust",)),
        ("vectorbt_numba", lambda: ensure_venv(VECTORBT_VENV, VECTORBT), vectorbt, ("numba",)),
        (
            "backtesting_py",
            lambda: ensure_venv(VENV, "backtesting", "pandas", "numpy"),
            backtesting_py,
            (),
        ),
    ]
    for name, python, script, args in starts:
        try:
            peers.append(Peer(name, python(), script, str(data), *args, cwd=tmp))
        except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
            result[f"{name}_error"] = str(exc)
    return peers


def measure_memory(data: Path) -> dict[str, Any]:
    """Peak RSS of one backtest in a fresh process (imports and candles included)."""
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(data)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory run failed: {proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _rounded(values: list[float]) -> list[float]:
    return [round(v, 4) for v in values]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="Also write the result JSON to this file.")
    parser.add_argument("--repeat", type=int, default=5, help="Interleaved rounds (medians are kept).")
    parser.add_argument("--skip-peers", action="store_true", help="Run only our engine.")
    args = parser.parse_args(argv)

    from backtesting import BacktestConfig, run_backtest

    warnings.simplefilter("ignore")
    load_before = os.getloadavg()
    candles = benchmark_candles()
    config = BacktestConfig(fill="intrabar")
    result: dict[str, Any] = {
        "candles": CANDLES,
        "candles_seed": SEED,
        "strategy": "custom",
        "fill_model": "intrabar",
        "indicator_preset": "ta",
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "candles.npz"
        np.savez(
            data,
            open_time=candles.index.asi8 // 1_000_000,
            **{c: candles[c].to_numpy() for c in PRICE_COLUMNS},
        )
        memory = measure_memory(data)
        peers = [] if args.skip_peers else _start_peers(data, tmp, result)
        run_backtest(candles.iloc[:5000], "custom", config)  # warm-up: numba's cache loads once
        runs: dict[str, list[float]] = {"ours": [], **{p.name: [] for p in peers}}
        answers: dict[str, dict[str, Any]] = {}
        ours = None
        try:
            for _ in range(args.repeat):
                start = time.perf_counter()
                ours = run_backtest(candles, "custom", config)
                runs["ours"].append(time.perf_counter() - start)
                for peer in list(peers):
                    try:
                        answers[peer.name] = peer.run()
                    except (RuntimeError, OSError, ValueError) as exc:
                        result[f"{peer.name}_error"] = str(exc)
                        peer.kill()
                        peers.remove(peer)
                        continue
                    runs[peer.name].append(float(answers[peer.name]["seconds"]))
            peaks = {peer.name: peer.close() for peer in peers}
        finally:
            for peer in peers:
                peer.kill()
    assert ours is not None
    our_final = float(ours.stats["final_equity"])
    result.update(
        ours_1m_s=round(statistics.median(runs["ours"]), 4),
        ours_1m_trades=len(ours.trades),
        ours_1m_final_equity=round(our_final, 6),
        ours_computed_indicators=list(ours.symbols["SYNTHUSDT"].computed_indicators),
        backtest_1m_peak_rss_mb=round(float(memory["peak"]), 1),
        backtest_1m_rss_at_start_mb=round(float(memory["at_start"]), 1),
        backtest_1m_rss_file_mb=round(float(memory["file"]), 1),
    )
    for peer in peers:
        name, answer = peer.name, answers[peer.name]
        seconds = statistics.median(runs[name])
        result[f"{name}_1m_s"] = round(seconds, 4)
        result[f"{name}_1m_trades"] = answer["trades"]
        result[f"{name}_trades_match"] = answer["trades"] == len(ours.trades)
        result[f"{name}_final_equity_rel_diff"] = round(float(answer["final"]) / our_final - 1.0, 6)
        result[f"{name}_peak_rss_mb"] = None if peaks[name] is None else round(peaks[name], 1)
        result[f"{name}_version"] = peer.version
        result[f"ours_vs_{name}"] = round(seconds / result["ours_1m_s"], 2)  # > 1: we are faster
    result["runs_s"] = {name: _rounded(values) for name, values in runs.items()}
    result["load_average_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    result["machine"] = (
        f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}"
    )
    emit_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
