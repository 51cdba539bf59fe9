"""``cryptoflow data``: check, resample and download candle files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cryptoflow.cli._backtest import OnGap
from cryptoflow.cli._common import console, settings
from cryptoflow.cli._paths import input_file, output_file, writing
from cryptoflow.errors import ConfigurationError, DataError

app = typer.Typer(help="Check, resample and download candle files.", no_args_is_help=True)


class OnInvalid(StrEnum):
    """What loading does with rows breaking a price rule."""

    fail = "fail"
    drop = "drop"


def _interval(text: str, option: str) -> None:
    from cryptoflow.candles import interval_ms

    try:
        interval_ms(text)
    except DataError as exc:
        raise ConfigurationError(f"{option}: {exc}") from None


def _epoch_ms(text: str, option: str) -> int:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise DataError(
            f"{option}: {text!r} is not an ISO-8601 date/time (e.g. 2025-08-01 or 2025-08-01T12:00Z)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@app.command("check")
def check(
    path: Path = typer.Argument(..., help="Candle file (CSV, .csv.gz, Binance archive .zip, Parquet)."),  # noqa: B008
    symbol: str | None = typer.Option(None, help="Symbol, e.g. ETHUSDT (default: from the file)."),
    interval: str | None = typer.Option(None, help="Interval, e.g. 5m (default: from the file)."),
    dedupe: bool = typer.Option(False, "--dedupe", help="Drop duplicate open times, keeping the last row."),
    on_gap: Annotated[
        OnGap, typer.Option("--on-gap", help="Gaps in the interval grid: warn, fail or fill.")
    ] = OnGap.warn,
    on_invalid: Annotated[
        OnInvalid, typer.Option("--on-invalid", help="Rows breaking a price rule: fail or drop.")
    ] = OnInvalid.fail,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Load and validate a candle file; print what it holds and what loading noticed or changed."""
    from cryptoflow.candles import iso, read_candles

    input_file(path)
    candles, report = read_candles(
        path,
        symbol=symbol,
        interval=interval,
        on_gap=on_gap.value,
        dedupe=dedupe,
        on_invalid=on_invalid.value,
    )
    summary: dict[str, Any] = {
        "path": str(path),
        "layout": report.layout,
        "symbol": report.symbol,
        "interval": report.interval,
        "rows_read": report.rows_read,
        "rows": report.rows,
        "first_open_time": iso(report.first_open_time) if report.first_open_time is not None else None,
        "last_open_time": iso(report.last_open_time) if report.last_open_time is not None else None,
        "gaps": len(report.gaps),
        "missing_candles": report.missing_candles,
        "columns": list(candles.columns),
        "notes": report.changes(),
    }
    if as_json:
        console.print_json(json.dumps(summary))
        return
    from rich.table import Table

    table = Table("", "", title=f"{path.name}", show_header=False)
    for key, value in summary.items():
        if key != "notes":
            table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
    console.print(table)
    for note in summary["notes"]:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    if not summary["notes"]:
        console.print("[green]ok:[/] no problems found")


@app.command("resample")
def resample(
    path: Path = typer.Argument(..., help="Candle file to read."),  # noqa: B008
    to: str = typer.Option(..., "--to", help="Target interval, e.g. 1h."),
    out: Path = typer.Option(..., "--out", help="Output file (.csv or .parquet)."),  # noqa: B008
    keep_partial: bool = typer.Option(False, "--keep-partial", help="Keep incomplete first/last candles."),
) -> None:
    """Aggregate a candle file into a coarser interval (e.g. 5m -> 1h) as Binance builds its candles."""
    from cryptoflow.candles import load_candles, resample_candles

    _interval(to, "--to")
    input_file(path)
    output_file(out, "--out", inputs=[path])
    candles = resample_candles(load_candles(path), to, drop_partial=not keep_partial)
    frame = candles.reset_index()
    frame["open_time"] = candles.index.asi8 // 1_000_000
    with writing(out, "--out"):
        if out.suffix.lower() in (".parquet", ".pq"):
            frame.to_parquet(out, index=False)
        else:
            frame.to_csv(out, index=False)
    console.print(f"wrote {len(candles)} {to} candle(s) to {out}")


@app.command("download")
def download(
    symbol: str = typer.Option(..., "--symbol", help="e.g. ETHUSDT"),
    interval: str = typer.Option(..., "--interval", help="e.g. 5m"),
    start: str = typer.Option(..., "--start", help="First open time, ISO-8601 UTC (e.g. 2025-08-01)."),
    end: str | None = typer.Option(None, "--end", help="End (exclusive), ISO-8601 UTC; default now."),
    market: str | None = typer.Option(None, "--market", help="spot or futures (default: settings)."),
    out: Path = typer.Option(  # noqa: B008
        ..., "--out", help="CSV file; an existing one is resumed after its last candle."
    ),
    min_interval: float = typer.Option(0.25, "--min-interval", help="Seconds between requests (rate limit)."),
) -> None:
    """Download historical klines from Binance (python-binance), resumable and idempotent on open time."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from cryptoflow.binance import download_candles

    _interval(interval, "--interval")
    config = settings().binance
    chosen = market or config.market
    if chosen not in ("spot", "futures"):
        raise DataError(f"--market must be spot or futures; got {chosen!r}")
    start_ms = _epoch_ms(start, "--start")
    end_ms = _epoch_ms(end, "--end") if end else int(datetime.now(UTC).timestamp() * 1000)
    if out.suffix.lower() not in (".csv", ""):
        raise ConfigurationError(
            f"--out {out}: downloads are written as CSV; give a file name ending in .csv"
        )
    output_file(out, "--out")
    with Progress(
        TextColumn(f"{symbol.upper()} {interval}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
        TimeRemainingColumn(), console=console,
    ) as bar:  # fmt: skip
        task = bar.add_task("download", total=max(end_ms - start_ms, 1))
        result = download_candles(
            symbol.upper(),
            interval,
            start_ms,
            end_ms,
            out,
            market=chosen,  # type: ignore[arg-type]
            base_url=config.base_url,
            min_request_interval_s=min_interval,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    resumed = f", resumed after {result.resumed_from}" if result.resumed_from is not None else ""
    console.print(f"wrote {result.written} candle(s) to {out} in {result.requests} request(s){resumed}")
