"""What a candle file really is, told from its first bytes rather than its name, in bounded reads.

A directory, a gzip'd CSV named ``.csv``, a Parquet file named ``.csv``, an Excel workbook, a 2 GB sparse
file or random bytes must each get a clear answer at once, not a decode error after reading gigabytes.
Only a few KiB are read here: the head of the file (decompressed when it is compressed) and, for plain
files, its tail, where a preallocated or truncated download leaves NUL bytes.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
import os
import stat
import zipfile
import zlib
from pathlib import Path
from typing import IO, Literal

from cryptoflow.errors import DataError

FileKind = Literal["text", "gzip", "zip", "bz2", "xz", "parquet"]

SAMPLE_BYTES = 8192
"""Bytes inspected at the head (and at the tail of a plain file)."""
HEAD_TEXT_BYTES = 65536
"""At most this much text is read to find the first lines (a file without line breaks stops here)."""

_MAGIC: tuple[tuple[bytes, FileKind], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty archive
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PAR1", "parquet"),
)
_UNSUPPORTED = (
    (b"\x28\xb5\x2f\xfd", "zstd-compressed: decompress it first (zstd -d FILE)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive: extract the CSV first"),
    (b"Rar!\x1a\x07", "a RAR archive: extract the CSV first"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel (.xls) or other Office file: save the sheet as CSV"),
    (b"\xff\xfe", "UTF-16 text: save it as UTF-8 (CSV UTF-8)"),
    (b"\xfe\xff", "UTF-16 text: save it as UTF-8 (CSV UTF-8)"),
    (b"SQLite format 3\x00", "an SQLite database: export the candles as CSV"),
)
_TAIL = ", near the end"
_EXPECTED = "expected a candle CSV (plain, .gz, .zip, .bz2 or .xz) or a Parquet file"
DAMAGED = (EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)
"""What reading a damaged archive raises (gzip.BadGzipFile and bz2's errors are OSErrors)."""


def _directory_message(path: Path) -> str:
    try:
        files = sorted(p.name for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError:
        files = []
    if not files:
        return f"{path}: is a folder, not a candle file (and it holds no files)"
    shown = ", ".join(files[:3]) + (", ..." if len(files) > 3 else "")
    return f"{path}: is a folder, not a candle file; give one of its files ({shown})"


def _check_path(path: Path) -> os.stat_result:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except NotADirectoryError:
        raise DataError(f"{path}: no such file (a part of the path is a file, not a folder)") from None
    except PermissionError:
        raise DataError(f"{path}: cannot read it: permission denied") from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError(_directory_message(path))
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{path}: not a regular file (a device, socket or pipe); {_EXPECTED}")
    return info


def _read(path: Path, offset: int, size: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(size)
    except PermissionError:
        raise DataError(f"{path}: cannot read it: permission denied") from None


def _check_text(path: Path, sample: bytes, where: str, offset: int = 0) -> None:
    """Refuse binary content (NUL bytes, mostly control bytes) and text that is not UTF-8."""
    nul = sample.find(b"\x00")
    if nul >= 0:
        hint = " (the file may be truncated or preallocated)" if where == _TAIL else ""
        raise DataError(
            f"{path}: binary content, not a candle CSV: a NUL byte at offset {offset + nul}{where}{hint}; "
            f"{_EXPECTED}"
        )
    control = sum(1 for byte in sample if byte < 0x20 and byte not in b"\t\n\r\x0c")
    if sample and control / len(sample) > 0.05:
        raise DataError(
            f"{path}: binary content, not a candle CSV: {control} of {len(sample)} bytes at offset {offset}"
            f"{where} are control bytes; {_EXPECTED}"
        )
    if where == _TAIL:  # the sample may start inside a character: skip its continuation bytes
        cut = next((i for i, byte in enumerate(sample[:3]) if not 0x80 <= byte < 0xC0), min(3, len(sample)))
        sample, offset = sample[cut:], offset + cut
    try:  # an incremental decoder accepts a character cut at the end of the sample
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text: byte 0x{sample[exc.start]:02x} at offset {offset + exc.start}{where}; "
            "save the file as UTF-8 (or give a Parquet file)"
        ) from None


def open_binary(path: Path, kind: FileKind) -> io.BufferedIOBase | IO[bytes]:
    """The decompressed content of ``path`` as a binary stream (``kind`` from :func:`sniff`)."""
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "bz2":
        return bz2.open(path, "rb")
    if kind == "xz":
        return lzma.open(path, "rb")
    if kind == "zip":
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
        members = [name for name in names if not name.endswith("/")]
        if any(name.startswith(("xl/", "word/", "ppt/")) for name in names) or "[Content_Types].xml" in names:
            archive.close()
            raise DataError(f"{path}: an Excel or other Office document, not a CSV: save the sheet as CSV")
        if len(members) != 1:
            archive.close()
            raise DataError(f"{path}: expected one CSV inside the zip archive, found {len(members)}")
        member = archive.open(members[0])
        archive.close()  # the member keeps the file open until it is closed itself
        return member
    return open(path, "rb")


def sniff(path: Path) -> FileKind:
    """Tell what ``path`` holds from its magic number, and refuse anything that is not a candle file.

    Raises :class:`DataError` naming the file: missing, a folder, not a regular file, unreadable,
    a format cryptoflow does not read (zstd, 7-Zip, RAR, .xls, UTF-16, SQLite), binary content (NUL or
    control bytes, e.g. a sparse or random file), text that is not UTF-8, or a damaged archive.
    """
    info = _check_path(path)
    head = _read(path, 0, SAMPLE_BYTES)
    if not head:
        raise DataError(f"{path}: the file is empty")
    for magic, message in _UNSUPPORTED:
        if head.startswith(magic):
            raise DataError(f"{path}: {message}")
    kind: FileKind = next((k for magic, k in _MAGIC if head.startswith(magic)), "text")
    if kind == "parquet":
        return kind
    if kind == "text":
        _check_text(path, head.removeprefix(codecs.BOM_UTF8), "")
        if info.st_size > SAMPLE_BYTES:
            start = max(info.st_size - SAMPLE_BYTES, SAMPLE_BYTES)
            _check_text(path, _read(path, start, SAMPLE_BYTES), _TAIL, start)
        return kind
    try:
        with open_binary(path, kind) as stream:
            content = stream.read(SAMPLE_BYTES)
    except DataError:
        raise
    except DAMAGED as exc:
        raise DataError(f"{path}: damaged {kind} data: {exc}") from None
    if not content:
        raise DataError(f"{path}: the {kind} archive holds an empty file")
    _check_text(path, content.removeprefix(codecs.BOM_UTF8), f" of the decompressed {kind} data")
    return kind


def head_lines(path: Path, kind: FileKind, count: int = 3) -> list[str]:
    """The first ``count`` non-blank lines of the (decompressed) text, reading at most
    :data:`HEAD_TEXT_BYTES`."""
    try:
        with open_binary(path, kind) as stream:
            raw = stream.read(HEAD_TEXT_BYTES)
    except DAMAGED as exc:
        raise DataError(f"{path}: damaged {kind} data: {exc}") from None
    text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff")
    lines = text.splitlines()
    if len(raw) == HEAD_TEXT_BYTES and len(lines) <= 1:
        raise DataError(
            f"{path}: line 1 is longer than {HEAD_TEXT_BYTES // 1024} KiB: not a candle CSV; {_EXPECTED}"
        )
    if len(raw) == HEAD_TEXT_BYTES:
        lines = lines[:-1]  # the last one may be cut
    return [line for line in lines if line.strip()][:count]
