"""``cryptoflow optimize`` through the console script: the table at 80 columns, files, shared and
interrupted studies, and every bad input as one message with exit code 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest

from cryptoflow.candles import sample_path
from cryptoflow.testing.services import clean_env

pytestmark = pytest.mark.slow  # one console-script process per case

ETH_1H = sample_path("1h")
ETH_5M = sample_path("5m")
SPACE = ["--space", "rsi_oversold=15..45", "--space", "rsi_overbought=55..85"]


def command(*args: str, cwd: Path, columns: int = 80) -> list[str]:
    return [sys.executable, "-m", "cryptoflow", "optimize", "-d", str(ETH_1H), "--on-gap", "fill", *args]


def run(*args: str, cwd: Path, columns: int = 80) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(*args, cwd=cwd),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        env=clean_env(COLUMNS=str(columns)),
    )


def complete(storage: str, study: str) -> list[optuna.trial.FrozenTrial]:
    if storage.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        backend: object = optuna.storages.JournalStorage(JournalFileBackend(storage.removeprefix("journal:")))
    else:
        backend = storage
    trials = optuna.load_study(study_name=study, storage=backend).get_trials()  # type: ignore[arg-type]
    assert optuna.trial.TrialState.RUNNING not in [t.state for t in trials]
    return [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]


def test_the_table_fits_80_columns_with_short_names_and_in_and_out_of_sample(tmp_path: Path) -> None:
    result = run(
        "--strategy", "ensemble", "--sampler", "random", "--trials", "8", "--jobs", "1", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80 and "…" not in result.stdout
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["#", "w_rsi", "w_macd"])
    assert lines[header - 1].split() == ["sharpe", "trades"] and lines[header].split()[-3:] == [
        "IS",
        "OOS",
        "IS/OOS",
    ]
    assert (
        "w_rsi = weight_rsi; w_macd = weight_macd" in result.stdout
        and "IS = in sample 2023-02-01" in result.stdout
    )
    assert len([line for line in lines[header + 2 :] if line.strip() and line.split()[0].isdigit()]) == 8


def test_warnings_name_too_few_trades_and_a_fall_out_of_sample(tmp_path: Path) -> None:
    # on these candles the best in-sample threshold trades rarely and loses out of sample
    result = run(
        "--strategy", "ensemble", "--space", "threshold=3", "--space", "weight_engulfing=0,1",
        "--loss", "profit", "--jobs", "1", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any(
        "trades in sample, fewer than --min-trades 20: its statistics mean little" in w for w in warnings
    )


def test_the_full_table_goes_to_csv_or_parquet(tmp_path: Path) -> None:
    csv, parquet = tmp_path / "all.csv", tmp_path / "all.parquet"
    for path in (csv, parquet):
        result = run("--strategy", "custom", "--sampler", "tpe", "--trials", "6", *SPACE, "--jobs", "1",
                     "--study", "files", "--table", str(path), cwd=tmp_path)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"wrote {path}" in result.stdout
    table = pd.read_csv(csv)
    assert len(table) == 6 and {"trial", "param_rsi_oversold", "train_sharpe", "test_sharpe"} <= set(table)
    columnar = pd.read_parquet(parquet)  # the same study (same --study): the same rows
    assert (
        list(columnar.columns) == list(table.columns)
        and columnar["trial"].tolist() == table["trial"].tolist()
    )


@pytest.mark.parametrize("storage", ["journal:{}/shared.log", "sqlite:///{}/shared.db"])
def test_two_processes_share_one_storage_and_run_exactly_the_trials(tmp_path: Path, storage: str) -> None:
    url = storage.format(tmp_path)
    args = ("--strategy", "custom", "--sampler", "tpe", "--trials", "24", *SPACE, "--space",
            "rsi_period=7..28", "--storage", url, "--study", "together", "--jobs", "2")  # fmt: skip
    procs = [
        subprocess.Popen(
            command(*args, cwd=tmp_path),
            cwd=tmp_path,
            env=clean_env(),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=240) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert len(complete(url, "together")) == 24


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_keeps_the_trials_and_the_same_command_resumes(tmp_path: Path, jobs: str) -> None:
    url = f"sqlite:///{tmp_path}/resume.db"
    args = ("-d", str(ETH_5M), "--strategy", "custom", "--sampler", "random", "--trials", "5000", *SPACE,
            "--space", "rsi_period=7..28", "--storage", url, "--study", "resume", "--jobs", jobs)  # fmt: skip
    proc = subprocess.Popen(
        command(*args, cwd=tmp_path), cwd=tmp_path, env=clean_env(PYTHONFAULTHANDLER="1"), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            if (tmp_path / "resume.db").exists() and len(completed_so_far(url)) >= 4:
                break
        except (KeyError, ValueError, AssertionError):  # the study is not created yet
            continue
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group: the workers too
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # a hang: the faulthandler dumps every thread's stack on SIGABRT
        os.kill(proc.pid, signal.SIGABRT)
        _, err = proc.communicate(timeout=30)
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"no exit 60 s after Ctrl-C:\n{err[-8000:]}")
    assert proc.returncode == 130, err
    assert "run the same command to resume it" in err and "Traceback" not in err
    done = len(complete(url, "resume"))
    assert 0 < done < 5000
    result = subprocess.run(
        command(*[a if a != "5000" else str(done + 5) for a in args], cwd=tmp_path),
        capture_output=True, text=True, timeout=180, cwd=tmp_path, env=clean_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(complete(url, "resume")) == done + 5


def completed_so_far(url: str) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name="resume", storage=url)
    return study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))


BAD_INPUTS = {
    "unknown loss": (["--loss", "nope"], "error: --loss nope: unknown loss; choose one of sharpe, sortino"),
    "unknown sampler": (
        ["--sampler", "cmaes"],
        "Error: Invalid value for '--sampler': 'cmaes' is not one of 'tpe', 'nsga2', 'random', 'grid'.",
    ),
    "parameter outside the strategy": (
        ["--space", "rsi_oversld=10,20"],
        "error: --space rsi_oversld: strategy 'custom' has no such parameter; its parameters: ",
    ),
    "min above max": (
        ["--space", "rsi_oversold=40..10"],
        "error: --space rsi_oversold: range 40..10: min 40 is above max 10; write 10..40",
    ),
    "grid of a continuous range": (
        ["--space", "rsi_oversold=10..40"],
        "error: --sampler grid needs a finite space: give ranges a step (low..high:step)",
    ),
    "storage that cannot be reached": (
        ["--storage", "postgresql://trader:s3cret@127.0.0.1:9/studies"],
        "error: --storage postgresql://trader:***@127.0.0.1:9/studies: ",
    ),
    "storage that cannot be opened": (
        ["--storage", "sqlite:///."],  # a folder
        "error: --storage sqlite:///.: cannot reach the storage (unable to open database file); check",
    ),
    "storage in a missing folder": (
        ["--storage", "sqlite:////nonexistent-folder/studies.db"],
        "error: --storage sqlite:////nonexistent-folder/studies.db: no folder /nonexistent-folder; create it",
    ),
    "storage of no known kind": (
        ["--storage", "redis://127.0.0.1"],
        "error: --storage redis://127.0.0.1: expected",
    ),
    "too few candles": (
        ["--start", "2023-02-01", "--end", "2023-02-03"],
        "error: --start/--end: 72 candles in the period, too few to train on 0.7 of them and test on",
    ),
    "too few candles for the folds": (
        ["--walk-forward", "rolling", "--folds", "60"],
        "error: --folds 60: 2136 candles make windows of 34 candles, fewer than 50; use fewer --folds",
    ),
    "table of an unknown format": (
        ["--table", "all.txt"],
        "error: --table all.txt: expected a file name ending",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_message_naming_the_option_and_exit_2(tmp_path: Path, case: str) -> None:
    args, message = BAD_INPUTS[case]
    result = run("--strategy", "custom", *args, "--jobs", "1", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.lower().startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(message), result.stderr
    assert not list(tmp_path.glob("*.db")) or case == "same study, another space"


def test_the_same_study_with_another_space_is_refused(tmp_path: Path) -> None:
    first = run(
        "--strategy", "custom", "--space", "rsi_oversold=20,30", "--study", "s", "--jobs", "1", cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    second = run(
        "--strategy", "custom", "--space", "rsi_oversold=20,35", "--study", "s", "--jobs", "1", cwd=tmp_path
    )
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert second.stderr.strip().splitlines()[-1] == (
        "error: --study s: this study holds a search with another setup (space: rsi_oversold=20,30 there, "
        "rsi_oversold=20,35 here); give another --study name, or the options it was started with"
    )


def test_walk_forward_prints_the_folds_and_the_stitched_out_of_sample(tmp_path: Path) -> None:
    out = tmp_path / "wf.json"
    result = run("--strategy", "custom", "--sampler", "tpe", "--trials", "8", *SPACE, "--walk-forward",
                 "anchored", "--folds", "3", "--jobs", "2", "--json", str(out), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80 and "…" not in result.stdout
    folds = [line.split() for line in lines if line.split()[:1] in (["1"], ["2"], ["3"])]
    assert [f[0] for f in folds] == ["1", "2", "3"] and all(f[1].startswith("2023-") for f in folds)
    assert "stitched out of sample: return " in result.stdout and "walk-forward efficiency" in result.stdout
    doc = json.loads(out.read_text())
    assert doc["mode"] == "anchored" and [f["fold"] for f in doc["folds"]] == [1, 2, 3]
    assert doc["stitched"]["n_trades"] == sum(f["test_n_trades"] for f in doc["folds"])
