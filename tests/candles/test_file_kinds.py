"""What a candle file is comes from its first bytes, in bounded reads: folders, compressed files under
any name, sparse and random files, through ``cryptoflow data check`` as a user runs it."""

from __future__ import annotations

import bz2
import gzip
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cryptoflow.candles import load_candles, sample_path
from cryptoflow.errors import DataError
from cryptoflow.testing.services import clean_env

pytestmark = pytest.mark.slow  # one console-script process per case

ETH_1H = sample_path("1h")  # a .csv.gz
RAW = gzip.decompress(ETH_1H.read_bytes())
EXPECTED = "expected a candle CSV (plain, .gz, .zip, .bz2 or .xz) or a Parquet file"


def check(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cryptoflow", "data", "check", str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=path.parent,
        env=clean_env(),
    )


def fails(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip() == f"error: {message}", result.stderr


def test_a_2_gb_sparse_file_is_refused_from_its_first_bytes(tmp_path: Path) -> None:
    path = tmp_path / "ETHUSDT_5m_big.csv"
    subprocess.run(["truncate", "-s", "2G", str(path)], check=True)
    fails(
        check(path),
        f"{path}: binary content, not a candle CSV: a NUL byte at offset 0; {EXPECTED}",
    )


def test_random_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "ETHUSDT_5m_random.csv"
    data = bytearray(os.urandom(1 << 20))
    data[:3] = b"abc"  # not a magic number, and no NUL byte at offset 0
    data = data.replace(b"\x00", b"\x01")  # no NUL at all: the share of control bytes tells
    path.write_bytes(bytes(data))
    result = check(path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"error: {path}: binary content, not a candle CSV: "), result.stderr
    assert f"bytes at offset 0 are control bytes; {EXPECTED}" in result.stderr
    path.write_bytes(os.urandom(1 << 20).replace(b"\x00", b"\x01", 1) + b"\x00")
    assert "a NUL byte at offset" in check(path).stderr


def test_nul_bytes_after_good_rows_are_found_at_the_tail(tmp_path: Path) -> None:
    path = tmp_path / "ETHUSDT_1h_preallocated.csv"
    good = RAW
    path.write_bytes(good + b"\x00" * 100_000)  # the tail sample is the last 8 KiB
    fails(
        check(path),
        f"{path}: binary content, not a candle CSV: a NUL byte at offset {len(good) + 100_000 - 8192}, "
        f"near the end (the file may be truncated or preallocated); {EXPECTED}",
    )


def test_one_endless_line_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "ETHUSDT_1h_oneline.csv"
    path.write_text("1," * 5_000_000)
    fails(check(path), f"{path}: line 1 is longer than 64 KiB: not a candle CSV; {EXPECTED}")


def test_a_folder_is_named_as_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "candles"
    folder.mkdir()
    fails(check(folder), f"{folder}: is a folder, not a candle file (and it holds no files)")
    (folder / "ETHUSDT_1h.csv").write_bytes(RAW)
    (folder / "BTCUSDT_1h.csv").write_bytes(b"")
    fails(
        check(folder),
        f"{folder}: is a folder, not a candle file; give one of its files (BTCUSDT_1h.csv, ETHUSDT_1h.csv)",
    )


@pytest.mark.parametrize("compress", ["gzip", "zip", "bz2"])
def test_a_compressed_file_named_csv_is_read(tmp_path: Path, compress: str) -> None:
    path = tmp_path / "ETHUSDT_1h_packed.csv"
    raw = RAW
    if compress == "gzip":
        path.write_bytes(gzip.compress(raw))
    elif compress == "bz2":
        path.write_bytes(bz2.compress(raw))
    else:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("ETHUSDT-1h.csv", raw)
    result = check(path, "--json")
    assert result.returncode == 0, result.stderr
    assert f'"layout": "csv; {compress}-compressed although named .csv' in result.stdout
    assert '"rows": 2135' in result.stdout
    assert load_candles(path).equals(load_candles(ETH_1H))


def test_damaged_archives_and_foreign_formats_are_named(tmp_path: Path) -> None:
    cut = tmp_path / "ETHUSDT_1h.csv.gz"
    cut.write_bytes(ETH_1H.read_bytes()[:5000])
    fails(
        check(cut),
        f"{cut}: damaged gzip data: Compressed file ended before the end-of-stream marker was reached",
    )
    workbook = tmp_path / "ETHUSDT_1h.csv"
    with zipfile.ZipFile(workbook, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    fails(check(workbook), f"{workbook}: an Excel or other Office document, not a CSV: save the sheet as CSV")
    utf16 = tmp_path / "ETHUSDT_1h_utf16.csv"
    utf16.write_text(RAW.decode(), encoding="utf-16")
    fails(check(utf16), f"{utf16}: UTF-16 text: save it as UTF-8 (CSV UTF-8)")
    latin = tmp_path / "ETHUSDT_1h_latin.csv"
    text = b"date,open,high,low,close,volume,remarque\n2025-01-01,1,2,0.5,1.5,3,d\xe9j\xe0\n"
    latin.write_bytes(text)
    fails(
        check(latin),
        f"{latin}: not UTF-8 text: byte 0xe9 at offset {text.index(0xE9)}; "
        "save the file as UTF-8 (or give a Parquet file)",
    )


def test_parquet_is_known_by_its_magic_number(tmp_path: Path) -> None:
    path = tmp_path / "ETHUSDT_1h_table.csv"
    frame = load_candles(ETH_1H).reset_index()
    frame.to_parquet(path, index=False)
    assert load_candles(path)["close"].equals(load_candles(ETH_1H)["close"])


def test_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "ETHUSDT_1h.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError) as caught:
        load_candles(fifo)
    assert str(caught.value) == f"{fifo}: not a regular file (a device, socket or pipe); {EXPECTED}"


def test_the_fake_exchange_names_a_folder_given_as_data(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cryptoflow", "exchange", "serve", "--data", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr.strip() == f"error: --data {tmp_path}: is a folder; give candle files, comma-separated"
    )
