"""Candle events of a whole run at once, from columns: the history path of :meth:`CandleEvent.encode_columns`.

A replay publishes a million candle events; building a validated model per candle and encoding it costs
about 30 µs, 30 s per million. Here nothing is built per candle: each column is written as JSON by one
``orjson`` call (the same shortest round-trip text for a float as pydantic's serializer, non-finite
values as ``null``), the ids are hashed in one pass and laid out as text by numpy, and a compiled loop
(numba) interleaves the template's constant parts (keys, the run's envelope) with those column texts.
About 2-4 µs per event instead of 30, measured by ``benchmarks.pipeline`` (``event_encode_us``).

msgspec was measured too: it encodes a candle event in 1-2 µs, but writes large and small
floats differently from pydantic (``1e16``, not ``1e+16``), so the history path's bytes would no longer be
the live path's; orjson writes floats exactly as pydantic does.

The template is derived from the models' fields, in their order, so a field added to a model is either
filled from a column or breaks loudly here, never silently left out; the property tests compare the bytes
with :func:`~cryptoflow.events.encode` of the model built from the same values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pydantic_core
from numba import njit

from cryptoflow.events._codec import encode
from cryptoflow.events._models import (
    INDICATOR_NAMES,
    CandleEvent,
    CandlePayload,
    IndicatorValues,
    event_id_prefix,
    iso_ms,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["CANDLE_COLUMNS", "encode_candle_columns"]

CANDLE_COLUMNS: tuple[str, ...] = (
    "open_time_ms",
    "close_time_ms",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "trades",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
    *INDICATOR_NAMES,
)
"""The columns :func:`encode_candle_columns` reads: the first seven are required, the rest optional."""

_REQUIRED = CANDLE_COLUMNS[:7]
_MAX_MS = 253_402_300_799_999  # EpochMs' bound: 9999-12-31
_ROWS_PER_PASS = 65_536  # the texts of one pass stay a few tens of MB
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_UUID_DIGITS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
_ISO_WIDTH = 23  # 2023-11-14T22:13:20.000


# A column's text is the JSON text of each of its values followed by a comma (numbers, null, ids and
# timestamps hold no comma), so the compiled interleaver walks every column with one cursor.
_Text = np.ndarray


def _json_text(values: Any) -> _Text:
    """The JSON text of each value of a 1-d array (or list), from one ``orjson`` call."""
    text = bytearray(orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY))
    text[-1:] = b","  # "[1.5,null,2.0]" -> "1.5,null,2.0,"
    return np.frombuffer(text, np.uint8)[1:]


def _fixed_text(matrix: NDArray[np.uint8]) -> _Text:
    rows, width = matrix.shape
    text = np.full((rows, width + 1), ord(","), np.uint8)
    text[:, :width] = matrix
    return text.reshape(-1)


def _uuid5_text(prefix: bytes, times: list[bytes]) -> _Text:
    """``uuid5`` ids of ``prefix + time`` for each time's text, as 36-character text (see ``event_id``)."""
    sha1 = hashlib.sha1
    digests = b"".join([sha1(prefix + time).digest() for time in times])
    raw = np.frombuffer(digests, np.uint8).reshape(-1, 20)[:, :16].copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50  # version 5
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    digits = np.empty((len(raw), 32), np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 0x0F]
    text = np.full((len(raw), 36), ord("-"), np.uint8)
    text[:, _UUID_DIGITS] = digits
    return _fixed_text(text)


def _iso_text(times: NDArray[np.int64]) -> _Text:
    """``iso_ms`` of each time (epoch ms) as text: the few distinct days by ``iso_ms``, the time of day
    by arithmetic. Times out of range are clipped (their rows are the model's to reject)."""
    times = np.clip(times, 0, _MAX_MS)
    days, rest = np.divmod(times, 86_400_000)
    distinct, which = np.unique(days, return_inverse=True)
    day_text = np.frombuffer(
        "".join(iso_ms(int(day) * 86_400_000)[:10] for day in distinct.tolist()).encode(), np.uint8
    ).reshape(-1, 10)
    text = np.empty((len(times), _ISO_WIDTH + 1), np.uint8)
    text[:, :10] = day_text[which.reshape(-1)]
    seconds, millis = np.divmod(rest, 1000)
    for column, value in ((11, seconds // 3600), (14, seconds // 60 % 60), (17, seconds % 60)):
        text[:, column] = ord("0") + value // 10
        text[:, column + 1] = ord("0") + value % 10
    text[:, 10], text[:, 13], text[:, 16], text[:, 19], text[:, 23] = (ord(c) for c in "T::.Z")
    for k, column in enumerate((20, 21, 22)):
        text[:, column] = ord("0") + millis // 10 ** (2 - k) % 10
    return _fixed_text(text)


@njit(cache=True, nogil=True)
def _interleave(
    constants: NDArray[np.uint8],
    constant_ends: NDArray[np.int64],
    texts: NDArray[np.uint8],
    text_starts: NDArray[np.int64],
    rows: int,
) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:  # pragma: no cover - compiled
    """Documents ``constant 0, column 0, constant 1, ..., column k-1, constant k`` per row, back to
    back; returns them and where each ends. Column ``j``'s texts start at ``texts[text_starts[j]]``."""
    columns = len(text_starts)
    out = np.empty(rows * constant_ends[-1] + len(texts), np.uint8)
    doc_ends = np.empty(rows, np.int64)
    cursors = text_starts.copy()
    pos = 0
    for r in range(rows):
        begin = 0
        for j in range(columns + 1):
            for b in range(begin, constant_ends[j]):
                out[pos] = constants[b]
                pos += 1
            begin = constant_ends[j]
            if j < columns:
                c = cursors[j]
                while texts[c] != 44:  # ","
                    out[pos] = texts[c]
                    pos += 1
                    c += 1
                cursors[j] = c + 1
        doc_ends[r] = pos
    return out[:pos], doc_ends


def _assemble(pieces: list[bytes | _Text], rows: int) -> list[bytes]:
    """One document per row: the pieces in order, a constant as it is, a column's text of that row."""
    constants: list[bytes] = [b""]
    texts: list[_Text] = []
    for piece in pieces:
        if isinstance(piece, bytes):
            constants[-1] += piece
        else:
            texts.append(piece)
            constants.append(b"")
    text_starts = np.cumsum([0] + [len(text) for text in texts[:-1]], dtype=np.int64)
    constant_ends = np.cumsum([len(c) for c in constants], dtype=np.int64)
    out, doc_ends = _interleave(
        np.frombuffer(b"".join(constants), np.uint8), constant_ends, np.concatenate(texts), text_starts, rows
    )
    buffer = out.tobytes()
    return [
        buffer[start:end] for start, end in zip([0, *doc_ends[:-1].tolist()], doc_ends.tolist(), strict=True)
    ]


def _json(value: object) -> bytes:
    return pydantic_core.to_json(value)  # pydantic's own text of a constant (escapes, unicode)


def _template(
    columns: Mapping[str, Any], envelope: Mapping[str, object], ids: _Text, stamps: _Text
) -> list[bytes | _Text]:
    """The pieces of a candle event, in the models' field order (constants merged)."""
    pieces: list[bytes | _Text] = []

    def constant(text: bytes) -> None:
        if pieces and isinstance(pieces[-1], bytes):
            pieces[-1] += text
        else:
            pieces.append(text)

    def field(name: str, value: bytes | _Text, first: bool) -> None:
        constant((b"" if first else b",") + _json(name) + b":")
        if isinstance(value, bytes):
            constant(value)
        else:
            pieces.append(value)

    def column(name: str) -> bytes | _Text:
        return columns[name] if name in columns else b"null"

    constant(b"{")
    for k, (name, info) in enumerate(CandleEvent.model_fields.items()):
        key = info.alias or name
        if name == "candle":
            field(key, b"{", k == 0)
            for j, (inner, _) in enumerate(CandlePayload.model_fields.items()):
                if inner == "indicators":
                    field(inner, b"{", j == 0)
                    for i, indicator in enumerate(IndicatorValues.model_fields):
                        field(indicator, column(indicator), i == 0)
                    constant(b"}")
                elif inner == "is_closed":
                    field(inner, b"true", j == 0)
                else:
                    field(inner, column(inner), j == 0)
            constant(b"}")
        elif name == "event_id":
            field(key, b'"', k == 0)
            pieces.append(ids)
            constant(b'"')
        elif name == "timestamp":
            field(key, b'"', k == 0)
            pieces.append(stamps)
            constant(b'"')
        elif name == "time_ms":
            field(key, column("open_time_ms"), k == 0)
        else:
            field(key, _json(envelope[name]), k == 0)
    constant(b"}")
    return pieces


def _valid_rows(arrays: Mapping[str, NDArray[Any]]) -> NDArray[np.bool_]:
    """Rows whose values the models accept (conservative: a row not marked is built by the model)."""
    ok = np.ones(len(arrays["open"]), bool)
    for name in ("open_time_ms", "close_time_ms"):
        ok &= (arrays[name] >= 0) & (arrays[name] <= _MAX_MS)
    for name in ("open", "high", "low", "close"):
        ok &= np.isfinite(arrays[name]) & (arrays[name] > 0)
    ok &= np.isfinite(arrays["volume"]) & (arrays["volume"] >= 0)
    for name in ("quote_volume", "taker_buy_base_volume", "taker_buy_quote_volume", "trades"):
        if name in arrays:  # not finite: null
            ok &= ~(arrays[name] < 0)
    if "trades" in arrays:
        ok &= ~(arrays["trades"] >= 2.0**63)
    return ok


def encode_candle_columns(columns: Mapping[str, Any], run: Mapping[str, Any]) -> list[bytes]:
    """See :meth:`CandleEvent.encode_columns`; ``run`` holds its keyword arguments (the envelope)."""
    unknown = set(columns) - set(CANDLE_COLUMNS)
    missing = [name for name in _REQUIRED if name not in columns]
    if unknown or missing:
        raise ValueError(
            f"candle columns: unknown {sorted(unknown)}, missing {missing}; expected {CANDLE_COLUMNS}"
        )
    arrays: dict[str, NDArray[Any]] = {
        name: np.asarray(values, np.int64 if name.endswith("_ms") else np.float64)
        for name, values in columns.items()
    }
    rows = len(arrays["open"])
    if any(len(values) != rows for values in arrays.values()):
        raise ValueError("candle columns: every column needs one value per candle")
    envelope: dict[str, Any] = {
        "schema_name": "candle",
        "schema_version": CandleEvent.model_fields["schema_version"].default,
        **run,
    }
    if rows == 0:
        return []
    first = CandleEvent.of_columns(arrays, 0, **run)  # checks the envelope once (raises like the model)
    prefix = event_id_prefix("candle", run["source"], run["run_id"], run["symbol"], run["interval"])
    valid = _valid_rows(arrays)
    encoded: list[bytes] = []
    for start in range(0, rows, _ROWS_PER_PASS):
        part = {name: values[start : start + _ROWS_PER_PASS] for name, values in arrays.items()}
        count = len(part["open"])
        texts: dict[str, _Text] = {}
        for name, values in part.items():
            if name == "trades":  # an integer, or null where not finite
                finite = np.isfinite(values)
                listed: list[int | None] = (
                    values.astype(np.int64, copy=False).tolist()
                    if finite.all()
                    else [
                        int(v) if ok else None for v, ok in zip(values.tolist(), finite.tolist(), strict=True)
                    ]
                )
                texts[name] = _json_text(listed)
            else:
                texts[name] = _json_text(values)
        times = part["open_time_ms"]
        time_texts = orjson.dumps(times, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")
        pieces = _template(texts, envelope, _uuid5_text(prefix, time_texts), _iso_text(times))
        encoded.extend(_assemble(pieces, count))
    for row in np.flatnonzero(~valid).tolist():  # the model decides (and raises when the row is invalid)
        encoded[row] = encode(first if row == 0 else CandleEvent.of_columns(arrays, row, **run))
    return encoded
