"""Reading candle files of every layout in use into one canonical, not yet validated, frame."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cryptoflow.candles._columns import (
    BINANCE_KLINE_FIELDS,
    EXTRA_COLUMNS,
    OHLCV,
    datetimes_to_ms,
    epoch_to_ms,
    map_columns,
    normalise_symbol,
)
from cryptoflow.candles._filekind import DAMAGED, FileKind, head_lines, open_binary, sniff
from cryptoflow.candles._model import BINANCE_INTERVALS
from cryptoflow.errors import DataError

log = logging.getLogger("cryptoflow.candles")

_NUMBER = re.compile(r"^\s*-?\d+(\.\d*)?([eE][-+]?\d+)?\s*$")
_SUFFIXES = {"gzip": ".gz", "zip": ".zip", "bz2": ".bz2", "xz": ".xz"}


@dataclass
class RawCandles:
    """A file's candles in canonical columns, in file order, before validation.

    ``frame`` has ``open_time`` (int64 epoch ms), the OHLCV columns (float64), whichever extra columns the
    file has, and ``_line``: where each row sits in the file (``line`` numbers for text, 1-based ``row``
    numbers for Parquet, as ``location`` says).
    """

    frame: pd.DataFrame
    layout: str
    location: str
    symbol: str | None


def read_raw(path: Path) -> RawCandles:
    """Read ``path`` (CSV, optionally gzip/zip/bz2/xz-compressed, or Parquet) into canonical columns.

    What the file is comes from its first bytes, not its name (a gzip'd CSV named ``.csv`` is read);
    folders, binary content and unsupported formats are refused at once (see :func:`sniff`).
    """
    kind = sniff(path)
    if kind == "parquet":
        return _read_parquet(path)
    return _read_csv(path, kind)


def _read_csv(path: Path, kind: FileKind) -> RawCandles:
    lines = head_lines(path, kind)
    if not lines:
        raise DataError(f"{path}: the file is empty")
    skip = 0
    layout = []
    if kind != "text" and not path.name.lower().endswith(_SUFFIXES[kind]):
        layout.append(f"{kind}-compressed although named {path.suffix or 'without a suffix'}")
    if lines[0].count(",") < 4 and len(lines) > 1 and lines[1].count(",") >= 4:
        # A banner line such as CryptoDataDownload's URL precedes the header.
        skip = 1
        layout.append(f"banner line {lines[0][:40]!r} skipped")
        lines = lines[1:]
        if not lines:
            raise DataError(f"{path}: no candle rows after the banner line")
    first = lines[0].split(",")
    has_header = not _NUMBER.match(first[0])
    if not has_header and len(first) < 6:
        raise DataError(
            f"{path}: line {skip + 1}: a headerless file needs at least the 6 columns "
            f"open_time,open,high,low,close,volume; found {len(first)}"
        )
    try:
        with open_binary(path, kind) as stream:
            if has_header:
                table = pd.read_csv(stream, skiprows=skip, header=0, compression=None)
                first_data_line = skip + 2
            else:
                names = list(BINANCE_KLINE_FIELDS[: len(first)]) + [
                    f"extra_{i}" for i in range(len(first) - 12)
                ]
                table = pd.read_csv(stream, skiprows=skip, header=None, names=names, compression=None)
                first_data_line = skip + 1
                layout.append("no header: Binance kline column order")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}") from exc
    except DAMAGED as exc:
        raise DataError(f"{path}: damaged {kind} data: {exc}") from exc
    if table.empty:
        raise DataError(f"{path}: no candle rows")
    lines_col = np.arange(first_data_line, first_data_line + len(table), dtype="int64")
    return _canonical(path, table, lines_col, "line", "csv" + ("; " + "; ".join(layout) if layout else ""))


def _read_parquet(path: Path) -> RawCandles:
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for unreadable files
        raise DataError(f"{path}: not a readable Parquet file: {exc}") from exc
    if isinstance(table.index, pd.DatetimeIndex) or table.index.name is not None:
        table = table.reset_index()
    if table.empty:
        raise DataError(f"{path}: no candle rows")
    rows = np.arange(1, len(table) + 1, dtype="int64")
    return _canonical(path, table, rows, "row", "parquet")


def _canonical(path: Path, table: pd.DataFrame, lines: np.ndarray, location: str, layout: str) -> RawCandles:
    table.columns = [str(c) for c in table.columns]
    mapping, volumes_in = map_columns(list(table.columns))
    table = table.rename(columns=mapping)
    symbol = _symbol_from_column(path, table)
    if "volume" not in table.columns and volumes_in:
        _resolve_volumes(path, table, volumes_in, symbol)
    missing = [col for col in ("open_time", *OHLCV) if col not in table.columns]
    if missing:
        raise DataError(
            f"{path}: no column for {', '.join(missing)} "
            f"(columns found: {', '.join(map(str, table.columns))}); "
            "expected a Binance kline layout or open_time/timestamp/date,open,high,low,close,volume"
        )
    frame = pd.DataFrame({"_line": lines})
    frame["open_time"] = _times(path, table["open_time"], lines, location, "open_time")
    for col in OHLCV:
        frame[col] = _numbers(path, table[col], lines, location, col)
    for col in EXTRA_COLUMNS:
        if col in table.columns:
            if col == "close_time":
                values = _numbers(path, table[col], lines, location, col)
                ms = np.full(len(values), -1, dtype="int64")
                known = ~np.isnan(values)
                ms[known] = epoch_to_ms(values[known])
                frame[col] = ms  # -1 marks a missing close time, derived from the interval later
            else:
                frame[col] = _numbers(path, table[col], lines, location, col)
    return RawCandles(frame=frame, layout=layout, location=location, symbol=symbol)


def _symbol_from_column(path: Path, table: pd.DataFrame) -> str | None:
    if "symbol" not in table.columns:
        return None
    raw = table["symbol"].astype(str).str.strip()
    raw = raw[raw != ""]
    found = sorted(set(raw))
    if len(found) > 1:
        raise DataError(
            f"{path}: the file holds several symbols ({', '.join(found[:5])}): load one symbol per file"
        )
    if not found:
        return None
    table.attrs["raw_symbol"] = found[0]
    return normalise_symbol(found[0])


def _resolve_volumes(path: Path, table: pd.DataFrame, volumes_in: dict[str, str], symbol: str | None) -> None:
    """Pick base and quote volume among ``Volume <ASSET>`` columns using the symbol (``ETH/USDT``)."""
    raw = str(table.attrs.get("raw_symbol", ""))
    base = quote = None
    if "/" in raw:
        base, quote = (normalise_symbol(part) for part in raw.split(":")[0].split("/", 1))
    elif symbol:
        for asset in volumes_in:
            if symbol.endswith(asset) and symbol != asset:
                quote, base = asset, symbol[: -len(asset)]
    if len(volumes_in) == 1 and base is None:
        table.rename(columns={next(iter(volumes_in.values())): "volume"}, inplace=True)
        return
    if base not in volumes_in:
        raise DataError(
            f"{path}: cannot tell the base-asset volume among columns "
            f"{', '.join(volumes_in.values())}: give the symbol (e.g. symbol='ETHUSDT')"
        )
    renames = {volumes_in[base]: "volume"}
    if quote in volumes_in:
        renames[volumes_in[quote]] = "quote_volume"
    table.rename(columns=renames, inplace=True)


def _bad_row(path: Path, lines: np.ndarray, location: str, index: int) -> str:
    return f"{path}: {location} {int(lines[index])}"


def _numbers(path: Path, column: pd.Series, lines: np.ndarray, location: str, name: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype="float64", na_value=np.nan)
    text = column.astype(str).str.strip()
    values = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = values.isna() & (text != "") & (text.str.lower() != "nan") & column.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{_bad_row(path, lines, location, i)}: {name} {text.iloc[i]!r} is not a number "
            f"(rule: numeric {name})"
        )
    return values.to_numpy(dtype="float64", na_value=np.nan)


def _times(path: Path, column: pd.Series, lines: np.ndarray, location: str, name: str) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(column):
        stamps = column if getattr(column.dt, "tz", None) is not None else column.dt.tz_localize("UTC")
        stamps = stamps.dt.tz_convert("UTC")
        if stamps.isna().any():
            i = int(np.flatnonzero(stamps.isna().to_numpy())[0])
            raise DataError(
                f"{_bad_row(path, lines, location, i)}: {name} is missing (rule: every candle has a time)"
            )
        return datetimes_to_ms(stamps).to_numpy(dtype="int64")
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype="float64")
    else:
        text = column.astype(str).str.strip()
        if text.str.match(_NUMBER).all():
            values = text.astype("float64").to_numpy()
        else:
            stamps = pd.to_datetime(text.where(text != ""), utc=True, format="ISO8601", errors="coerce")
            if stamps.isna().any():
                i = int(np.flatnonzero(stamps.isna().to_numpy())[0])
                raise DataError(
                    f"{_bad_row(path, lines, location, i)}: {name} {text.iloc[i]!r} is not a date/time "
                    "(rule: ISO-8601 date/time or epoch number)"
                )
            return datetimes_to_ms(stamps).to_numpy(dtype="int64")
    if np.isnan(values).any():
        i = int(np.flatnonzero(np.isnan(values))[0])
        raise DataError(
            f"{_bad_row(path, lines, location, i)}: {name} is missing (rule: every candle has a time)"
        )
    return epoch_to_ms(values)


def names_from_file(path: Path) -> tuple[str | None, str | None]:
    """Symbol and interval spelled in a file name (``ETHUSDT_5m_2025-08.csv``, ``ETHUSDT-1h-2024-01.zip``)."""
    tokens = re.split(r"[_\-. ]+", path.name)
    symbol = next(
        (t for t in tokens if re.fullmatch(r"[A-Z0-9]{5,20}", t) and re.search(r"[A-Z]{2}", t)),
        None,
    )
    interval = next((t for t in tokens if t in BINANCE_INTERVALS), None)
    return symbol, interval
