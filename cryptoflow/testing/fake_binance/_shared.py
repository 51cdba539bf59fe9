"""A fake exchange over the shared real candle files, running in a background thread: what tests start."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptoflow.testing.fake_binance._market import ReplayMarket
from cryptoflow.testing.fake_binance._server import FakeExchange

__all__ = ["replay_exchange"]


def replay_exchange(
    shared_data: Path,
    *,
    symbols: Sequence[str] = ("ETHUSDT", "BTCUSDT"),
    history: int = 60,
    limit: int = 8,
    speed: float | None = None,
    fill_at: str = "last",
    lockstep: bool = False,
) -> FakeExchange:
    """A started fake exchange replaying ``symbols``' 5m candles of 2025-08 from ``shared_data``
    (``<SYMBOL>_5m_2025-08.csv``): ``history`` candles served for the REST warm-up, then ``limit`` candles
    (three intrabar updates each) at ``speed`` candles per second (``None``: as fast as clients read) once
    :meth:`~FakeExchange.start_replay` is called. ``lockstep``: the clock waits up to 2 s after each close
    for :meth:`~FakeExchange.release`. Stop it with :meth:`~FakeExchange.stop_thread`.

    >>> exchange = replay_exchange(SHARED_DATA, symbols=("ETHUSDT",), limit=20)  # doctest: +SKIP
    """
    files = [shared_data / f"{symbol}_5m_2025-08.csv" for symbol in symbols]
    market = ReplayMarket.from_files(files, history=history, limit=limit, updates_per_candle=3)
    exchange = FakeExchange(
        market,
        speed=speed,
        fill_at=fill_at,
        lockstep_timeout_s=2.0 if lockstep else None,
    )
    return exchange.start_in_thread()
