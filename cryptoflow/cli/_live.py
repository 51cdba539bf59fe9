"""``cryptoflow exchange serve``, ``cryptoflow trade`` and ``cryptoflow indicators``: the live side."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import typer

from cryptoflow.cli._common import console
from cryptoflow.errors import ConfigurationError

exchange_app = typer.Typer(help="A local fake Binance exchange replaying real candles.", no_args_is_help=True)


def _speed(text: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigurationError(
            f"--speed expects candles per second (e.g. 2 or 0.5) or 'max', got {text!r}"
        ) from None
    if not value > 0:
        raise ConfigurationError(f"--speed must be > 0 or 'max', got {text!r}")
    return value


@exchange_app.command("serve")
def serve(
    data: str = typer.Option(..., "--data", help="Candle file(s), comma-separated, one interval."),
    port: int = typer.Option(9010, "--port", help="TCP port (0 = any free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    speed: str = typer.Option("1", "--speed", help="Candles per second, or 'max'."),
    history: int = typer.Option(
        300, "--history", help="Candles already in the past at start (REST warm-up)."
    ),
    updates: int = typer.Option(3, "--updates", help="Intrabar (x=false) kline updates per candle."),
    limit: int | None = typer.Option(None, "--limit", help="Replay at most this many candles."),
    fill: str = typer.Option("last", "--fill", help="MARKET fills at the 'last' price or the last 'close'."),
    wait: bool = typer.Option(
        False, "--wait", help="Start the replay only on POST /_fake/start (default: at once)."
    ),
) -> None:
    """Serve Binance's REST and websocket protocol (spot and USD-M futures) replaying candle files.

    Keys: CRYPTOFLOW_FAKE_API_KEY / CRYPTOFLOW_FAKE_API_SECRET (default fake-api-key / fake-api-secret).
    Faults: POST /_fake/drop, /_fake/silence?seconds=S, /_fake/reject?count=N&code=C; GET /_fake/state.
    """
    from cryptoflow.exchange import FakeExchange, ReplayMarket

    if fill not in ("last", "close"):
        raise ConfigurationError(f"--fill expects 'last' or 'close', got {fill!r}")
    paths = [Path(p.strip()) for p in data.split(",") if p.strip()]
    for path in paths:
        if not path.is_file():
            raise ConfigurationError(f"--data: {str(path)!r} does not exist")
    market = ReplayMarket.from_files(paths, history=history, updates_per_candle=updates, limit=limit)
    exchange = FakeExchange(
        market,
        speed=_speed(speed),
        host=host,
        port=port,
        api_key=os.environ.get("CRYPTOFLOW_FAKE_API_KEY", "fake-api-key"),
        api_secret=os.environ.get("CRYPTOFLOW_FAKE_API_SECRET", "fake-api-secret"),
        autostart=not wait,
        fill_at=fill,
    )

    async def run() -> None:
        await exchange.start()
        console.print(
            f"fake exchange on [bold]{exchange.base_url}[/] (streams {exchange.stream_url}): "
            f"{', '.join(market.symbols)} {market.interval}, {len(market.grid) - market.history} candles "
            f"to replay at {speed} candle(s)/s"
        )
        try:
            await asyncio.Event().wait()
        finally:
            await exchange.stop()

    asyncio.run(run())
