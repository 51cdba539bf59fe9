"""``cryptoflow data download``: page through Binance's historical klines, rate-limited and resumable."""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from binance.exceptions import BinanceAPIException, BinanceRequestException
from requests import RequestException

from cryptoflow.binance._http import BinanceEndpoints, binance_client, is_restricted_location
from cryptoflow.candles import BINANCE_KLINE_FIELDS, interval_ms, load_candles
from cryptoflow.config import Market
from cryptoflow.errors import DataError, ExchangeRejection, RestrictedLocation, TemporaryError
from cryptoflow.retry import Backoff, retry

__all__ = ["DOWNLOAD_COLUMNS", "DownloadResult", "download_candles"]

log = logging.getLogger(__name__)

#: Columns of the files ``download_candles`` writes (Binance's kline fields, minus ``ignore``).
DOWNLOAD_COLUMNS = BINANCE_KLINE_FIELDS[:-1]
_RETRY_STATUS = {418, 429, 500, 502, 503, 504}


class KlineClient(Protocol):
    """What the downloader needs from python-binance's ``Client`` (so tests can pass a stand-in)."""

    def get_klines(self, **params: Any) -> list[list[Any]]: ...  # noqa: D102

    def futures_klines(self, **params: Any) -> list[list[Any]]: ...  # noqa: D102


@dataclass
class DownloadResult:
    """What a download run did."""

    path: Path
    written: int
    resumed_from: int | None
    requests: int
    last_open_time: int | None


def _existing_last_open(out: Path, symbol: str, interval: str) -> int | None:
    if not out.exists() or out.stat().st_size == 0:
        return None
    candles = load_candles(out, symbol=symbol, interval=interval, dedupe=True)
    return int(candles.index.asi8[-1] // 1_000_000) if len(candles) else None


def _append_csv(out: Path, rows: Sequence[Sequence[Any]]) -> None:
    new = not out.exists() or out.stat().st_size == 0
    with out.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(DOWNLOAD_COLUMNS)
        for row in rows:
            writer.writerow([int(row[0]), *row[1:6], int(row[6]), row[7], int(row[8]), row[9], row[10]])


def download_candles(
    symbol: str,
    interval: str,
    start_ms: int,
    end_ms: int,
    out: Path,
    *,
    market: Market = "spot",
    client: KlineClient | None = None,
    base_url: str | None = None,
    page_limit: int = 1000,
    min_request_interval_s: float = 0.25,
    max_retries: int = 5,
    progress: Callable[[int, int], None] | None = None,
    now_ms: Callable[[], int] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadResult:
    """Download closed ``symbol`` ``interval`` klines with open times in ``[start_ms, end_ms)`` into ``out``.

    ``out`` is a CSV in Binance's kline columns (``open_time,...,taker_buy_quote_volume``, epoch ms) that
    :func:`load_candles` reads. If it exists, the download resumes after its last open time, so an
    interrupted run is continued by running it again; rows are only ever appended once per open time.
    Requests are spaced by ``min_request_interval_s``; HTTP 418/429/5xx and connection errors are retried
    with exponential backoff (honouring Retry-After), then raise :class:`TemporaryError`. An exchange
    rejection (e.g. an unknown symbol) raises :class:`ExchangeRejection` with Binance's code and message;
    HTTP 451 (Binance refuses this server's region) raises :class:`RestrictedLocation` at once.

    ``progress(done_ms, total_ms)`` is called after each page. ``base_url`` points python-binance at
    another REST root (settings: ``binance.base_url``).
    """
    step = interval_ms(interval)
    if end_ms <= start_ms:
        raise DataError(f"download: the end ({end_ms}) must be after the start ({start_ms})")
    if out.suffix.lower() not in (".csv", ""):
        raise DataError(f"download writes CSV: {out} should end in .csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    last = _existing_last_open(out, symbol, interval)
    cursor = max(start_ms, last + step) if last is not None else start_ms
    if client is None:
        client = binance_client(BinanceEndpoints(base_url))
    fetch = client.get_klines if market == "spot" else client.futures_klines
    clock = now_ms or (lambda: int(time.time() * 1000))
    written = requests = 0
    last_request = 0.0
    last_open = last
    while cursor < end_ms:
        wait = min_request_interval_s - (time.monotonic() - last_request)
        if wait > 0:
            sleep(wait)
        rows = _fetch_page(fetch, symbol, interval, cursor, end_ms, page_limit, max_retries, sleep)
        last_request = time.monotonic()
        requests += 1
        now = clock()
        fresh = [
            row for row in rows
            if int(row[0]) >= cursor and int(row[0]) < end_ms and int(row[6]) < now
            and (last_open is None or int(row[0]) > last_open)
        ]  # fmt: skip
        if fresh:
            _append_csv(out, fresh)
            written += len(fresh)
            last_open = int(fresh[-1][0])
        if progress is not None:
            progress(min(max(cursor, (last_open or cursor) + step), end_ms) - start_ms, end_ms - start_ms)
        if not rows or not fresh:
            break
        cursor = last_open + step  # type: ignore[operator]
    log.info(
        "downloaded %d %s %s candle(s) into %s in %d request(s)", written, symbol, interval, out, requests
    )
    return DownloadResult(
        path=out, written=written, resumed_from=last, requests=requests, last_open_time=last_open
    )


def _fetch_page(
    fetch: Callable[..., list[list[Any]]],
    symbol: str,
    interval: str,
    start: int,
    end: int,
    limit: int,
    max_retries: int,
    sleep: Callable[[float], None],
) -> list[list[Any]]:

    def page() -> list[list[Any]]:
        try:
            return fetch(symbol=symbol, interval=interval, startTime=start, endTime=end - 1, limit=limit)
        except BinanceAPIException as exc:
            if is_restricted_location(exc):  # Binance refuses this server's region: no retry helps
                raise RestrictedLocation("REST API") from None
            if exc.status_code not in _RETRY_STATUS:
                raise ExchangeRejection(int(exc.code or exc.status_code), str(exc.message)) from exc
            raise

    try:
        return retry(
            page,
            backoff=Backoff(1.0, 60.0, jitter=False),
            retry_on=_RETRYABLE,
            attempts=max_retries + 1,
            pause=_retry_after,
            on_retry=lambda exc, pause: log.warning(
                "klines request failed (%s); retrying in %.1fs", _reason(exc), pause
            ),
            sleep=sleep,
        )
    except _RETRYABLE as exc:
        raise TemporaryError(
            f"Binance klines unavailable after {max_retries + 1} attempts: {_reason(exc)}"
        ) from None


_RETRYABLE = (BinanceAPIException, BinanceRequestException, RequestException)


def _retry_after(exc: BaseException, delay: float) -> float:
    """The server's ``Retry-After`` (seconds) when it sent one, else the backoff's delay."""
    retry_after = getattr(getattr(exc, "response", None), "headers", {}).get("Retry-After")
    return float(retry_after) if retry_after else delay


def _reason(exc: BaseException) -> str:
    if isinstance(exc, BinanceAPIException):
        return f"HTTP {exc.status_code}: {exc.message}"
    return str(exc)
