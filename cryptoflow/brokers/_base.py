"""What every broker shares: positions, closed trades, the broker contract, deterministic order ids."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptoflow.candles import Candle
from cryptoflow.errors import ConfigurationError, check_range
from cryptoflow.events import Side, Source

__all__ = [
    "Broker",
    "BrokerBook",
    "ClosedTrade",
    "Position",
    "StateFile",
    "TradingConfig",
    "check_sizing",
    "client_order_id",
]


def check_sizing(cash: float, fraction: float, leverage: float) -> None:
    """Raise :class:`~cryptoflow.errors.ConfigurationError` naming the option (``--cash``,
    ``--fraction``, ``--leverage``) whose value no broker or backtest can size positions with."""
    check_range("--cash", cash, "a positive amount of quote currency", 0, low_open=True)
    check_range(
        "--fraction",
        fraction,
        "a share of the equity above 0 and at most 1",
        0,
        1,
        low_open=True,
        high_open=False,
    )
    check_range("--leverage", leverage, "from 1 to 125", 1, 125, high_open=False)


MARGIN_TYPES = ("ISOLATED", "CROSSED")
"""Binance's futures margin types."""


@dataclass(frozen=True)
class TradingConfig:
    """Sizing and costs, the same meaning as :class:`backtesting.BacktestConfig`.

    cash: starting equity in quote currency, split equally between the traded symbols (paper broker).
    fee_rate, slippage_rate: per fill, as fractions (paper broker; exchanges charge their own).
    fraction: share of the symbol's equity committed per position; leverage: notional multiplier.
    margin_type: ``ISOLATED`` or ``CROSSED``, set before trading (testnet/live).
    """

    cash: float = 10_000.0
    fee_rate: float = 0.0004
    slippage_rate: float = 0.0
    fraction: float = 1.0
    leverage: int = 1
    margin_type: str = "ISOLATED"

    def __post_init__(self) -> None:
        """Checked when made, named by ``cryptoflow trade``'s options (the ranges of a backtest's)."""
        check_sizing(self.cash, self.fraction, self.leverage)
        check_range(
            "fee_rate", self.fee_rate, "a rate from 0 to below 0.1 (0.0004 = Binance's taker fee)", 0, 0.1
        )
        check_range("slippage_rate", self.slippage_rate, "a rate from 0 to below 0.1", 0, 0.1)
        if self.margin_type not in MARGIN_TYPES:
            raise ConfigurationError(f"--margin-type {self.margin_type!r}: expected ISOLATED or CROSSED")


@dataclass
class Position:
    """An open position and the engine's bookkeeping for it (persisted, so a restart resumes it).

    ``side`` is +1 (long) or -1 (short); ``extreme`` is the best close since entry (trailing stop);
    ``held`` counts closed candles since the entry candle.
    """

    symbol: str
    side: int
    quantity: float
    entry_price: float
    entry_time: int
    entry_fee: float = 0.0
    extreme: float = 0.0
    held: int = 0
    entry_order_id: str = ""

    def close(
        self, exit_time: int, exit_price: float, reason: str, exit_fee: float, exit_order_id: str
    ) -> ClosedTrade:
        """The round trip this position makes by exiting at ``exit_price`` (PnL net of both fees)."""
        gross = self.side * self.quantity * (exit_price - self.entry_price)
        return ClosedTrade(
            self.symbol,
            "long" if self.side > 0 else "short",
            self.entry_time,
            self.entry_price,
            exit_time,
            exit_price,
            reason,
            self.quantity,
            gross - self.entry_fee - exit_fee,
            self.entry_fee + exit_fee,
            self.entry_order_id,
            exit_order_id,
        )


@dataclass(frozen=True)
class ClosedTrade:
    """A round trip, as the backtester reports it (times are candle open times, epoch ms)."""

    symbol: str
    side: Side
    entry_time: int
    entry_price: float
    exit_time: int
    exit_price: float
    exit_reason: str
    quantity: float
    pnl: float
    fees: float
    entry_order_id: str = ""
    exit_order_id: str = ""


def client_order_id(run_id: str, symbol: str, open_time: int, action: str) -> str:
    """A client order id that is the same every time the same decision is retried or replayed.

    Binance allows ``^[.A-Z:/a-z0-9_-]{1,36}$``; the id is ``cf-`` plus 24 hex digits of a hash of the
    run, symbol, candle open time and action (``open``/``close``).
    """
    digest = hashlib.sha256(f"{run_id}|{symbol}|{open_time}|{action}".encode()).hexdigest()[:24]
    return f"cf-{digest}"


class StateFile:
    """A JSON document on disk, replaced atomically on every save (a crash leaves the old or the new).

    A save writes ``<name>.<pid>.tmp`` in the same folder, fsyncs it, renames it over the file and
    fsyncs the folder; a temp file a crash left half-written is never read. The temp file is the
    process's own: while a symbol moves between workers, the worker giving it up may still be saving its
    last decision as the one taking it over saves its first, and neither may pull the other's temp file
    away (the last rename wins, and both documents are whole).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def temp(self) -> Path:
        """Where this process writes the next version before renaming it over :attr:`path`."""
        return self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")

    def load(self) -> dict[str, Any]:
        """The saved document, or ``{}`` when there is none yet."""
        if not self.path.is_file():
            return {}
        return json.loads(self.path.read_text())

    def save(self, document: dict[str, Any]) -> None:
        """Write ``document`` (fsync'd temp file, rename, fsync'd folder)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.temp
        with open(tmp, "w") as handle:
            json.dump(document, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a power cut
        finally:
            os.close(folder)


class BrokerBook:
    """What every broker keeps and writes as one state document: the open positions with the engine's
    bookkeeping, each symbol's last round trip, and the engine's record (:meth:`record`).

    A broker adds its own fields through :meth:`state` and reads them back from what :meth:`load`
    returns. The document is replaced atomically (:class:`StateFile`) at every fill and every record.
    """

    name: Source

    def __init__(self, state_path: Path) -> None:
        self._file = StateFile(state_path)
        self.positions: dict[str, Position] = {}
        self.closed: dict[str, ClosedTrade] = {}
        self.engine: dict[str, Any] = {}

    def load(self) -> dict[str, Any]:
        """Read the saved positions, last round trips and engine record; the whole document is returned
        for the broker's own fields (``{}`` before the first save)."""
        document = self._file.load()
        self.positions = {s: Position(**p) for s, p in document.get("positions", {}).items()}
        self.closed = {s: ClosedTrade(**t) for s, t in document.get("last_closed", {}).items()}
        self.engine = dict(document.get("engine", {}))
        return document

    def position(self, symbol: str) -> Position | None:
        """The open position of ``symbol`` or ``None``."""
        return self.positions.get(symbol)

    def last_closed(self, symbol: str) -> ClosedTrade | None:
        """The round trip ``symbol`` closed last."""
        return self.closed.get(symbol)

    def record(self, engine: dict[str, Any]) -> None:
        """Write the engine's record together with the positions (see :class:`Broker`)."""
        self.engine = dict(engine)
        self.save()

    def save(self) -> None:
        """Write the state document: this book plus the broker's own :meth:`state`."""
        self._file.save(
            {
                "broker": self.name,
                "positions": {s: asdict(p) for s, p in self.positions.items()},
                "last_closed": {s: asdict(t) for s, t in self.closed.items()},
                "engine": self.engine,
                **self.state(),
            }
        )

    def state(self) -> dict[str, Any]:
        """The broker's own fields of the state document (none here)."""
        return {}


class Broker(Protocol):
    """Where orders go. Prices passed in are the deciding candle's close (``close`` fill model)."""

    name: Source  # the ``source`` of the events its trades make: paper, testnet or live

    async def start(self, symbols: list[str]) -> dict[str, Position | None]:
        """Prepare (leverage, margin type) and read back open positions before any decision."""
        ...

    def position(self, symbol: str) -> Position | None:
        """The open position of ``symbol`` or ``None``."""
        ...

    def last_closed(self, symbol: str) -> ClosedTrade | None:
        """The round trip ``symbol`` closed last (kept in the state, so a restart knows it)."""
        ...

    def can_trade(self, symbol: str) -> bool:
        """False once the symbol's account is exhausted (paper) or trading is otherwise impossible."""
        ...

    async def open_position(self, symbol: str, side: int, candle: Candle, order_id: str) -> Position | None:
        """Enter at the candle's close; ``None`` when the order was skipped (e.g. below minNotional)."""
        ...

    async def close_position(self, symbol: str, candle: Candle, reason: str, order_id: str) -> ClosedTrade:
        """Exit the open position at the candle's close."""
        ...

    engine: dict[str, Any]
    """The trading engine's record (which candle was decided last), kept in the broker's state document
    so that it and the positions are written together, in one atomic replace."""

    def record(self, engine: dict[str, Any]) -> None:
        """Persist the engine's record and the positions' bookkeeping (``extreme``, ``held``) together,
        once a candle's decision is complete and its events are delivered."""
        ...

    async def stop(self) -> None:
        """Release connections (the state was written at every fill and every :meth:`record`)."""
        ...

    async def release(self) -> None:
        """Release connections without writing the state (another worker owns the symbol now)."""
        ...
