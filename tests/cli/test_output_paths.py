"""Output paths are checked before the work starts, by one helper for every command that writes a file:
one message naming the option and the path as typed, exit 2, no traceback, nothing written or lost."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cryptoflow.candles import sample_path
from cryptoflow.testing.services import clean_env

pytestmark = pytest.mark.slow  # one console-script process per case

ETH_1H = sample_path("1h")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cryptoflow", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        env=clean_env(),
    )


def refused(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.stderr.strip() == f"error: {message}", result.stderr
    assert "wrote" not in result.stdout and "statistic" not in result.stdout, result.stdout


DOWNLOAD = ["data", "download", "--symbol", "ETHUSDT", "--interval", "1h", "--start", "2025-01-01"]


@pytest.mark.parametrize(
    ("args", "option", "path", "made"),
    [
        (["backtest", "-d", str(ETH_1H)], "--report", "/proc/r.html", "file"),
        (["backtest", "-d", str(ETH_1H)], "--trades-json", "/proc/t.json", "file"),
        (["optimize", "-d", str(ETH_1H)], "--json", "/proc/o.json", "file"),
        (["data", "resample", str(ETH_1H), "--to", "1d"], "--out", "/proc/x.csv", "file"),
        (DOWNLOAD, "--out", "/proc/d.csv", "file"),
        (["setup"], "--done-file", "/proc/done", "file"),
        (["trade", "--no-kafka"], "--state-dir", "/proc/state", "folder"),
        (["demo"], "--out", "/proc/demo", "folder"),
    ],
)
def test_an_unwritable_place_is_refused_before_the_work(
    tmp_path: Path, args: list[str], option: str, path: str, made: str
) -> None:
    what = "cannot write there" if made == "file" else f"cannot create folder {path}"
    refused(
        run(*args, option, path, cwd=tmp_path),
        f"{option} {path}: {what}: /proc does not accept new files; choose another path",
    )


def test_a_folder_given_as_an_output_file(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    refused(
        run("backtest", "-d", str(ETH_1H), "--trades-csv", "out", cwd=tmp_path),
        "--trades-csv out: is a folder; give a file name, e.g. out/trades.csv",
    )
    refused(
        run("data", "resample", str(ETH_1H), "--to", "1d", "--out", "out", cwd=tmp_path),
        "--out out: is a folder; give a file name, e.g. out/candles.csv",
    )


def test_a_file_given_as_the_state_folder(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("x")
    refused(
        run("trade", "--state-dir", "state", "--no-kafka", cwd=tmp_path),
        "--state-dir state: is a file; give a folder",
    )


def test_a_missing_folder_at_the_top_of_the_file_system_is_not_created(tmp_path: Path) -> None:
    top = Path(f"/nonexistent-cryptoflow-{os.getpid()}")
    result = run("data", "resample", str(ETH_1H), "--to", "1d", "--out", f"{top}/x.csv", cwd=tmp_path)
    refused(
        result,
        f"--out {top}/x.csv: folder {top} does not exist; missing folders of an output path are created, "
        "but not at the top of the file system, where one is most likely a typo: check the path, or create "
        f"the folder first (mkdir {top}) if you mean it",
    )
    assert not top.exists()


def test_missing_folders_below_are_made(tmp_path: Path) -> None:
    result = run("data", "resample", str(ETH_1H), "--to", "1d", "--out", "out/daily/eth.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "daily" / "eth.csv").stat().st_size > 0
    result = run(
        "backtest",
        "-d",
        str(ETH_1H),
        "--report",
        "reports/run.html",
        "--trades-csv",
        "csv/t.csv",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "reports" / "run.html").is_file() and (tmp_path / "csv" / "t.csv").is_file()


def test_below_a_file_nothing_is_made(tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("keep me")
    refused(
        run("backtest", "-d", str(ETH_1H), "--report", "notes/sub/r.html", cwd=tmp_path),
        f"--report notes/sub/r.html: {tmp_path / 'notes'} is a file, not a folder",
    )
    assert (tmp_path / "notes").read_text() == "keep me"


def test_an_input_given_as_an_output_is_refused_and_kept(tmp_path: Path) -> None:
    data = tmp_path / "ETHUSDT_1h_copy.csv"
    data.write_bytes(ETH_1H.read_bytes())
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    message = (
        "that is an input file of this command; writing there would replace what is being read: "
        "choose another file"
    )
    refused(
        run("data", "resample", str(data), "--to", "1d", "--out", str(data), cwd=tmp_path),
        f"--out {data}: {message}",
    )
    refused(
        run("backtest", "-d", str(data), "--trades-csv", "./ETHUSDT_1h_copy.csv", cwd=tmp_path),
        f"--trades-csv ETHUSDT_1h_copy.csv: {message}",
    )
    assert hashlib.sha256(data.read_bytes()).hexdigest() == digest


def test_two_outputs_on_one_file(tmp_path: Path) -> None:
    refused(
        run("backtest", "-d", str(ETH_1H), "--trades-json", "a.out", "--trades-csv", "./a.out", cwd=tmp_path),
        "--trades-json and --trades-csv are both a.out: give each output its own file",
    )
