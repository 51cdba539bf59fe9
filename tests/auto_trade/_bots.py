"""Signals and bots for the executor's tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryptoflow.events import SignalAction, SignalEvent, SignalPayload

T0 = 1_754_006_400_000  # 2025-08-01T00:00:00Z
FIVE_MIN = 300_000

BOT = """
name = "{name}"
interval = "5m"
symbols = ["ETHUSDT", "BTCUSDT", "SOLUSDT"]
broker = "paper"

[capital]
total = 10000.0
leverage = 2

[[strategies]]
strategy = "basic"
run_id = "sig-basic"
fraction = 0.5

[[strategies]]
strategy = "custom"
run_id = "sig-custom"
fraction = 0.5
"""


def bot_text(protections: str = "", name: str = "test-bot") -> str:
    """The test bot (basic and custom, half the capital each, ETHUSDT, BTCUSDT, SOLUSDT, 5m) with
    ``protections`` (TOML) appended."""
    return BOT.format(name=name) + protections


def signal(
    candle: int,
    action: SignalAction,
    price: float,
    *,
    symbol: str = "ETHUSDT",
    strategy: str = "basic",
    run_id: str | None = None,
    reason: str | None = None,
    interval: str = "5m",
) -> SignalEvent:
    """The signal of ``strategy`` (run ``sig-<strategy>``) decided on the ``candle``-th 5m candle from
    :data:`T0`, at ``price``."""
    opened = T0 + candle * FIVE_MIN
    return SignalEvent.create(
        source="live",
        run_id=run_id or f"sig-{strategy}",
        strategy=strategy,
        symbol=symbol,
        interval=interval,
        time_ms=opened + FIVE_MIN - 1,
        signal=SignalPayload(
            action=action,
            price=price,
            candle_open_time_ms=opened,
            reason=reason if reason is not None else (None if action.startswith("entry") else "signal"),
        ),
    )


def many_signals(rounds: int) -> list[SignalEvent]:
    """Round trips of both strategies on the three symbols, with conflicts: every round, each symbol
    gets basic's and custom's entries (the first wins, the other is skipped) and, two candles later
    (after every symbol's entries), both exits (the owner's closes, the other's is skipped). Prices
    move so that some trades win."""
    events: list[SignalEvent] = []
    symbols = ("ETHUSDT", "BTCUSDT", "SOLUSDT")
    base = {"ETHUSDT": 3800.0, "BTCUSDT": 115000.0, "SOLUSDT": 170.0}
    for r in range(rounds):
        exits: list[SignalEvent] = []
        for i, symbol in enumerate(symbols):
            price = base[symbol] * (1 + 0.002 * ((r * 7 + i) % 11 - 5))
            first, second = ("basic", "custom") if (r + i) % 2 == 0 else ("custom", "basic")
            side = "long" if (r + i) % 3 else "short"
            for strategy in (first, second):
                events.append(signal(3 * r, f"entry_{side}", price, symbol=symbol, strategy=strategy))  # type: ignore[arg-type]
            later = price * (1 + 0.004 * ((r + 2 * i) % 5 - 2))
            for strategy in (second, first):
                exits.append(signal(3 * r + 2, f"exit_{side}", later, symbol=symbol, strategy=strategy))  # type: ignore[arg-type]
        events += exits
    return events


def writer(folder: Path) -> Callable[[str], Path]:
    """A function writing bot files into ``folder``."""

    def write(text: str, name: str = "bot.toml") -> Path:
        path = folder / name
        path.write_text(text)
        return path

    return write
