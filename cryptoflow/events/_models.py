"""The event schemas: one envelope, six payloads (candle, indicator, signal, trade, lock, error), version 1.

Every event is a flat JSON object: the envelope fields plus one object named after its schema::

    {"schema_name": "candle", "schema_version": 1, "event_id": "…", "source": "backtest",
     "run_id": "custom-ETHUSDT-1h-…", "strategy": "custom", "symbol": "ETHUSDT", "interval": "1h",
     "time_ms": 1700000000000, "@timestamp": "2023-11-14T22:13:20.000Z",
     "candle": {"close_time_ms": …, "open": 2061.43, …, "indicators": {"rsi": 48.2, …}}}

The same JSON is the Elasticsearch document (``event_id`` is its ``_id``), so a field's name in Kibana is
its path here (``candle.close``, ``trade.pnl``).
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cryptoflow.events._vocabulary import EventKind, Side, SignalAction, Source

if TYPE_CHECKING:
    from cryptoflow.brokers import ClosedTrade, Position
    from cryptoflow.candles import Candle
    from cryptoflow.portfolio import Lock

SCHEMA_VERSION: Final = 1
"""The version every event model of this module writes and reads."""

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# uuid5 namespace of cryptoflow's event ids; never change it (ids would change with it).
_NAMESPACE = uuid.UUID("6f1c8f52-2a6e-5a0c-9a55-3c1b0f1e7d21").bytes

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\s]+$")]
Price = Annotated[float, Field(gt=0)]
Amount = Annotated[float, Field(ge=0)]
EpochMs = Annotated[int, Field(ge=0, le=253_402_300_799_999)]  # up to 9999-12-31


def iso_ms(epoch_ms: int) -> str:
    """``1700000000000 -> "2023-11-14T22:13:20.000Z"`` (UTC, millisecond precision, epoch_ms >= 0)."""
    days, rest = divmod(int(epoch_ms), 86_400_000)
    seconds, millis = divmod(rest, 1000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{_iso_day(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


@lru_cache(maxsize=8192)
def _iso_day(days: int) -> str:
    # 3x faster than strftime on every event; the consumer checks every @timestamp
    return date.fromordinal(_EPOCH_ORDINAL + days).isoformat()


def event_id(*parts: object) -> str:
    """A deterministic id (UUID 5) from the parts that make an event unique.

    The same parts always give the same id, so the same event indexed twice is one document.
    """
    # uuid.uuid5 without its UUID object (5 µs -> 1 µs); the tests hold it to uuid.uuid5
    digest = bytearray(hashlib.sha1(_NAMESPACE + _id_name(parts).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def event_id_prefix(*parts: object) -> bytes:
    """What :func:`event_id` hashes for ``parts`` followed by one more part, up to that part: the
    columnar encoder appends each event's time to it."""
    return _NAMESPACE + (_id_name(parts) + "|").encode()


def _id_name(parts: tuple[object, ...]) -> str:
    """The name an event id hashes: the parts joined by ``|`` (``None`` as empty)."""
    return "|".join("" if part is None else str(part) for part in parts)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True)


class _Envelope(_Model):
    """Fields every event carries."""

    schema_name: EventKind
    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$")]
    source: Source
    run_id: Name
    strategy: Name | None = None
    symbol: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Z0-9._\-]+$")]
    interval: Annotated[str, Field(pattern=r"^\d+[smhdw]$")]
    time_ms: EpochMs
    # filled from time_ms when left out; a default, not a "before" validator: that one would make
    # pydantic hand every decoded message to Python as a dict first (decode 2x slower)
    timestamp: str = Field(alias="@timestamp", default_factory=lambda data: iso_ms(data["time_ms"]))

    @model_validator(mode="after")
    def _timestamp_matches(self) -> _Envelope:
        # a @timestamp left out was computed from time_ms: only a given one can disagree
        if "timestamp" in self.model_fields_set and self.timestamp != iso_ms(self.time_ms):
            raise ValueError(
                f"@timestamp {self.timestamp!r} does not match time_ms {self.time_ms} "
                f"(expected {iso_ms(self.time_ms)!r})"
            )
        return self

    @property
    def kind(self) -> EventKind:
        """The schema name (``candle``, ``indicator``, ``signal`` or ``trade``)."""
        return self.schema_name

    @property
    def partition_time_ms(self) -> int:
        """The UTC time (epoch ms) that picks the event's time-partitioned index.

        Always a time the event id is made of, so the same id always lands in the same partition: a
        candle's open time, an indicator update's time (``time_ms`` for both), a signal's candle open
        time and a trade's entry time (both legs of a position share the entry's partition).
        """
        return self.time_ms

    @property
    def key(self) -> bytes:
        """The Kafka message key, ``symbol|interval``: one symbol's events stay in order on one partition."""
        return f"{self.symbol}|{self.interval}".encode()


class IndicatorValues(_Model):
    """Indicator values of one candle; ``None`` while an indicator is still warming up."""

    rsi: float | None = None
    macd: float | None = None
    macd_signal: float | None = None
    macd_hist: float | None = None
    cci: float | None = None
    is_bull: float | None = None
    engulfing: float | None = None

    @classmethod
    def of(cls, values: Mapping[str, float]) -> IndicatorValues:
        """The values of an indicator engine's output (a value that is not a finite number, such as
        NaN while an indicator warms up, becomes ``None``; names that are not indicators are left out).

        >>> IndicatorValues.of({"rsi": 48.5, "macd": float("nan"), "open": 1.0}).rsi
        48.5
        """
        return cls(**{name: _finite(values.get(name)) for name in INDICATOR_NAMES})


INDICATOR_NAMES: tuple[str, ...] = tuple(IndicatorValues.model_fields)
"""The indicators every engine computes and every candle and indicator event carries (``rsi``,
``macd``, ``macd_signal``, ``macd_hist``, ``cci``, ``is_bull``, ``engulfing``)."""


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


class CandlePayload(_Model):
    """A candle (prices in quote currency, volumes in base currency unless named ``quote``)."""

    close_time_ms: EpochMs
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Amount
    quote_volume: Amount | None = None
    trades: Annotated[int, Field(ge=0)] | None = None
    taker_buy_base_volume: Amount | None = None
    taker_buy_quote_volume: Amount | None = None
    is_closed: bool = True
    indicators: IndicatorValues | None = None

    @classmethod
    def of_candle(cls, candle: Candle, indicators: IndicatorValues | None = None) -> CandlePayload:
        """The payload of a closed candle (its open time and symbol go into the envelope)."""
        return cls(
            close_time_ms=candle.close_time,
            open=candle.open,
            high=candle.high,
            low=candle.low,
            close=candle.close,
            volume=candle.volume,
            quote_volume=candle.quote_volume,
            trades=candle.trades,
            taker_buy_base_volume=candle.taker_buy_base_volume,
            taker_buy_quote_volume=candle.taker_buy_quote_volume,
            indicators=indicators,
        )


class CandleEvent(_Envelope):
    """A closed candle with its indicators. ``time_ms`` is the candle's open time.

    Id: source, run, symbol, interval and open time, so a candle published twice is one document.
    """

    schema_name: Literal["candle"] = "candle"
    candle: CandlePayload

    @classmethod
    def create(
        cls,
        *,
        source: Source,
        run_id: str,
        symbol: str,
        interval: str,
        open_time_ms: int,
        candle: CandlePayload,
        strategy: str | None = None,
    ) -> CandleEvent:
        """Build the event and its deterministic id."""
        eid = event_id("candle", source, run_id, symbol, interval, open_time_ms)
        return cls(
            event_id=eid,
            source=source,
            run_id=run_id,
            strategy=strategy,
            symbol=symbol,
            interval=interval,
            time_ms=open_time_ms,
            candle=candle,
        )

    @classmethod
    def of_candle(
        cls,
        candle: Candle,
        indicators: Mapping[str, float],
        *,
        source: Source,
        run_id: str,
        strategy: str | None = None,
    ) -> CandleEvent:
        """The event of a closed candle and its indicator values (see :meth:`IndicatorValues.of`)."""
        return cls.create(
            source=source,
            run_id=run_id,
            symbol=candle.symbol,
            interval=candle.interval,
            open_time_ms=candle.open_time,
            strategy=strategy,
            candle=CandlePayload.of_candle(candle, IndicatorValues.of(indicators)),
        )

    @classmethod
    def encode_columns(
        cls,
        columns: Mapping[str, Any],
        *,
        source: Source,
        run_id: str,
        symbol: str,
        interval: str,
        strategy: str | None = None,
    ) -> list[bytes]:
        """The encoded events of many candles of one symbol at once (the history path of a replay):
        the bytes :func:`~cryptoflow.events.encode` writes for :meth:`of_candle` of each, without a
        model per candle (about 30x faster).

        ``columns`` maps names to arrays (numpy or lists), one value per candle: ``open_time_ms`` and
        ``close_time_ms`` (epoch ms), ``open``, ``high``, ``low``, ``close``, ``volume``, and optionally
        ``quote_volume``, ``trades``, ``taker_buy_base_volume``, ``taker_buy_quote_volume`` and the
        indicators (:data:`INDICATOR_NAMES`). A value that is not a finite number is ``null`` where the
        schema allows it (NaN while an indicator warms up); a missing optional column is ``null``.
        Values the schema rejects raise the model's ``ValidationError`` as :meth:`create` would.

        >>> CandleEvent.encode_columns({"open_time_ms": [0], "close_time_ms": [59_999], "open": [1.0],
        ...     "high": [1.0], "low": [1.0], "close": [1.0], "volume": [0.0]},
        ...     source="backtest", run_id="r", symbol="ETHUSDT", interval="1m")[0][:24]
        b'{"schema_name":"candle",'
        """
        # imported here: the columnar encoder needs numpy, numba and orjson, which events alone do not
        from cryptoflow.events._columns import encode_candle_columns

        run = {
            "source": source,
            "run_id": run_id,
            "symbol": symbol,
            "interval": interval,
            "strategy": strategy,
        }
        return encode_candle_columns(columns, run)

    @classmethod
    def of_columns(
        cls,
        columns: Mapping[str, Any],
        row: int,
        *,
        source: Source,
        run_id: str,
        symbol: str,
        interval: str,
        strategy: str | None = None,
    ) -> CandleEvent:
        """The event of candle ``row`` of ``columns`` (named as :meth:`encode_columns` reads them, a
        value that is not a finite number ``None`` where the schema allows it): the model whose
        encoding :meth:`encode_columns` writes for that row, built and validated one candle at a time.
        """

        def optional(name: str) -> float | None:
            return _finite(float(columns[name][row])) if name in columns else None

        trades = optional("trades")
        payload = CandlePayload(
            close_time_ms=int(columns["close_time_ms"][row]),
            open=float(columns["open"][row]),
            high=float(columns["high"][row]),
            low=float(columns["low"][row]),
            close=float(columns["close"][row]),
            volume=float(columns["volume"][row]),
            quote_volume=optional("quote_volume"),
            trades=None if trades is None else int(trades),
            taker_buy_base_volume=optional("taker_buy_base_volume"),
            taker_buy_quote_volume=optional("taker_buy_quote_volume"),
            indicators=IndicatorValues.of(
                {n: float(columns[n][row]) for n in INDICATOR_NAMES if n in columns}
            ),
        )
        return cls.create(
            source=source,
            run_id=run_id,
            symbol=symbol,
            interval=interval,
            open_time_ms=int(columns["open_time_ms"][row]),
            candle=payload,
            strategy=strategy,
        )

    def to_candle(self) -> Candle:
        """The candle this event carries (optional volumes and counts it lacks are 0)."""
        # imported here: the candles package loads pandas, which consumers of events never need
        from cryptoflow.candles import Candle

        c = self.candle
        return Candle(
            self.symbol,
            self.interval,
            self.time_ms,
            c.close_time_ms,
            c.open,
            c.high,
            c.low,
            c.close,
            c.volume,
            c.quote_volume or 0.0,
            c.trades or 0,
            c.taker_buy_base_volume or 0.0,
            c.taker_buy_quote_volume or 0.0,
            c.is_closed,
        )


class IndicatorPayload(_Model):
    """Indicator values recomputed on an update of the still-open candle (provisional until it closes)."""

    open_time_ms: EpochMs
    close: Price
    provisional: bool = True
    values: IndicatorValues


class IndicatorEvent(_Envelope):
    """An intrabar indicator update. ``time_ms`` is the update's time (the kline event time).

    Id: source, run, symbol, interval, the candle's open time and the update time.
    """

    schema_name: Literal["indicator"] = "indicator"
    indicator: IndicatorPayload

    @classmethod
    def create(
        cls,
        *,
        source: Source,
        run_id: str,
        symbol: str,
        interval: str,
        update_time_ms: int,
        indicator: IndicatorPayload,
        strategy: str | None = None,
    ) -> IndicatorEvent:
        """Build the event and its deterministic id."""
        eid = event_id("indicator", source, run_id, symbol, interval, indicator.open_time_ms, update_time_ms)
        return cls(
            event_id=eid,
            source=source,
            run_id=run_id,
            strategy=strategy,
            symbol=symbol,
            interval=interval,
            time_ms=update_time_ms,
            indicator=indicator,
        )

    @classmethod
    def of_update(
        cls,
        candle: Candle,
        indicators: Mapping[str, float],
        update_time_ms: int,
        *,
        source: Source,
        run_id: str,
    ) -> IndicatorEvent:
        """The provisional indicator values of the still-open ``candle`` as of ``update_time_ms``."""
        return cls.create(
            source=source,
            run_id=run_id,
            symbol=candle.symbol,
            interval=candle.interval,
            update_time_ms=update_time_ms,
            indicator=IndicatorPayload(
                open_time_ms=candle.open_time, close=candle.close, values=IndicatorValues.of(indicators)
            ),
        )


class SignalPayload(_Model):
    """What a strategy decided on a closed candle."""

    action: SignalAction
    price: Price
    candle_open_time_ms: EpochMs
    reason: str | None = None
    params: dict[str, float | int | str | bool | None] = Field(default_factory=dict)
    indicators: IndicatorValues | None = None
    """The indicator values of the candle that decided it (``None`` when not recorded)."""


class SignalEvent(_Envelope):
    """A strategy signal. ``time_ms`` is when it was decided (the candle's close).

    Id: source, run, strategy, symbol, interval, candle open time and action.
    """

    schema_name: Literal["signal"] = "signal"
    strategy: Name
    signal: SignalPayload

    @property
    def partition_time_ms(self) -> int:
        """The signal's candle open time (part of its id); see :attr:`_Envelope.partition_time_ms`."""
        return self.signal.candle_open_time_ms

    @classmethod
    def create(
        cls,
        *,
        source: Source,
        run_id: str,
        strategy: str,
        symbol: str,
        interval: str,
        time_ms: int,
        signal: SignalPayload,
    ) -> SignalEvent:
        """Build the event and its deterministic id."""
        eid = event_id(
            "signal", source, run_id, strategy, symbol, interval, signal.candle_open_time_ms, signal.action
        )
        return cls(
            event_id=eid,
            source=source,
            run_id=run_id,
            strategy=strategy,
            symbol=symbol,
            interval=interval,
            time_ms=time_ms,
            signal=signal,
        )


class TradePayload(_Model):
    """One leg of a position: ``open`` (entry filled) or ``close`` (exit filled).

    ``price`` is this leg's fill price; ``fees`` are the fees paid on the position so far (entry fee on
    the open leg, entry + exit on the close leg), in quote currency. ``pnl`` is the realised PnL after
    fees in quote currency, ``pnl_pct`` the same relative to the entry notional (quantity x entry
    price), in percent; both only on the close leg.
    """

    leg: Literal["open", "close"]
    side: Side
    quantity: Annotated[float, Field(gt=0)]
    price: Price
    entry_time_ms: EpochMs
    entry_price: Price
    exit_time_ms: EpochMs | None = None
    exit_price: Price | None = None
    exit_reason: str | None = None
    fees: Amount
    pnl: float | None = None
    pnl_pct: float | None = None
    client_order_id: str | None = None

    @model_validator(mode="after")
    def _legs(self) -> TradePayload:
        closing = (self.exit_time_ms, self.exit_price, self.exit_reason, self.pnl)
        if self.leg == "close" and any(value is None for value in closing):
            raise ValueError("a close leg needs exit_time_ms, exit_price, exit_reason and pnl")
        if self.leg == "open" and any(value is not None for value in closing):
            raise ValueError("an open leg has no exit_time_ms, exit_price, exit_reason or pnl")
        return self

    @classmethod
    def open_leg(
        cls,
        *,
        side: Side,
        quantity: float,
        entry_time_ms: int,
        entry_price: float,
        fees: float,
        client_order_id: str | None = None,
    ) -> TradePayload:
        """The leg of a position's entry, filled at ``entry_price``; ``fees`` is the entry fee."""
        return cls(
            leg="open",
            side=side,
            quantity=quantity,
            price=entry_price,
            entry_time_ms=entry_time_ms,
            entry_price=entry_price,
            fees=fees,
            client_order_id=client_order_id,
        )

    @classmethod
    def close_leg(
        cls,
        *,
        side: Side,
        quantity: float,
        entry_time_ms: int,
        entry_price: float,
        exit_time_ms: int,
        exit_price: float,
        exit_reason: str,
        fees: float,
        pnl: float,
        client_order_id: str | None = None,
    ) -> TradePayload:
        """The leg of a position's exit, filled at ``exit_price``; ``fees`` are both legs' fees and
        ``pnl`` the realised PnL after them (``pnl_pct`` follows, relative to the entry notional)."""
        return cls(
            leg="close",
            side=side,
            quantity=quantity,
            price=exit_price,
            entry_time_ms=entry_time_ms,
            entry_price=entry_price,
            exit_time_ms=exit_time_ms,
            exit_price=exit_price,
            exit_reason=exit_reason,
            fees=fees,
            pnl=pnl,
            pnl_pct=pnl / (quantity * entry_price) * 100.0,
            client_order_id=client_order_id,
        )

    @classmethod
    def of_position(cls, position: Position) -> TradePayload:
        """The open leg of a broker's :class:`~cryptoflow.brokers.Position` (its entry order's id)."""
        return cls.open_leg(
            side="long" if position.side > 0 else "short",
            quantity=position.quantity,
            entry_time_ms=position.entry_time,
            entry_price=position.entry_price,
            fees=position.entry_fee,
            client_order_id=position.entry_order_id,
        )

    @classmethod
    def of_trade(cls, trade: ClosedTrade) -> TradePayload:
        """The close leg of a broker's :class:`~cryptoflow.brokers.ClosedTrade` (its exit order's id)."""
        return cls.close_leg(
            side=trade.side,
            quantity=trade.quantity,
            entry_time_ms=trade.entry_time,
            entry_price=trade.entry_price,
            exit_time_ms=trade.exit_time,
            exit_price=trade.exit_price,
            exit_reason=trade.exit_reason,
            fees=trade.fees,
            pnl=trade.pnl,
            client_order_id=trade.exit_order_id,
        )


class TradeEvent(_Envelope):
    """A position opened or closed. ``time_ms`` is the leg's fill time.

    Id: source, run, strategy, symbol, interval, entry time and leg.
    """

    schema_name: Literal["trade"] = "trade"
    strategy: Name
    trade: TradePayload

    @property
    def partition_time_ms(self) -> int:
        """The position's entry time (part of its id); see :attr:`_Envelope.partition_time_ms`."""
        return self.trade.entry_time_ms

    @classmethod
    def create(
        cls,
        *,
        source: Source,
        run_id: str,
        strategy: str,
        symbol: str,
        interval: str,
        trade: TradePayload,
    ) -> TradeEvent:
        """Build the event and its deterministic id."""
        eid = event_id("trade", source, run_id, strategy, symbol, interval, trade.entry_time_ms, trade.leg)
        time_ms = trade.entry_time_ms if trade.leg == "open" else trade.exit_time_ms
        assert time_ms is not None  # a validated close leg carries its exit time
        return cls(
            event_id=eid,
            source=source,
            run_id=run_id,
            strategy=strategy,
            symbol=symbol,
            interval=interval,
            time_ms=time_ms,
            trade=trade,
        )


Text = Annotated[str, Field(min_length=1, max_length=2000)]


class LockPayload(_Model):
    """A protection that refused an entry: :class:`cryptoflow.portfolio.Lock` (``until`` named
    ``until_ms``).

    protection: which one (``max_open_positions``, ``cooldown``, ``stoploss_guard``, ``max_drawdown``,
    ``daily_loss``); reason: one line for a person; until_ms: the first candle open time at which entries
    are allowed again, ``None`` while its condition holds (open positions); symbol / run_id: what it
    locks, ``None`` for every symbol / every strategy.
    """

    protection: Text
    reason: Text
    until_ms: EpochMs | None = None
    symbol: str | None = None
    run_id: str | None = None

    @classmethod
    def of_lock(cls, lock: Lock) -> LockPayload:
        """The payload of a :class:`cryptoflow.portfolio.Lock`."""
        return cls(
            protection=lock.protection,
            reason=lock.reason,
            until_ms=lock.until,
            symbol=lock.symbol,
            run_id=lock.run_id,
        )


class LockEvent(_Envelope):
    """An entry a protection refused. The envelope names the entry: the bot (``run_id``), the strategy
    that wanted it, the symbol, and ``time_ms`` the signal's time (its candle's close).

    Id: source, bot, strategy, symbol, interval, time and protection, so a signal decided again (after a
    restart) publishes the same lock once.
    """

    schema_name: Literal["lock"] = "lock"
    lock: LockPayload

    @classmethod
    def create(
        cls,
        *,
        source: Source,
        run_id: str,
        symbol: str,
        interval: str,
        time_ms: int,
        lock: LockPayload,
        strategy: str | None = None,
    ) -> LockEvent:
        """Build the event and its deterministic id."""
        eid = event_id("lock", source, run_id, strategy, symbol, interval, time_ms, lock.protection)
        return cls(
            event_id=eid,
            source=source,
            run_id=run_id,
            strategy=strategy,
            symbol=symbol,
            interval=interval,
            time_ms=time_ms,
            lock=lock,
        )


class ErrorPayload(_Model):
    """What went wrong in an executor: ``category`` (``exchange_rejection``, ``temporary``, ...), the
    ``message`` (secrets never in it), and the event id of the signal it was handling (``None`` for an
    error no signal caused)."""

    category: Text
    message: Text
    signal_event_id: str | None = None


class ErrorEvent(_Envelope):
    """An executor's error (an order the exchange refused, ...). ``time_ms`` is the signal's time, or
    when it happened for an error no signal caused.

    Id: source, bot, symbol, interval, time, category and the signal's event id.
    """

    schema_name: Literal["error"] = "error"
    error: ErrorPayload

    @classmethod
    def create(
        cls,
        *,
        source: Source,
        run_id: str,
        symbol: str,
        interval: str,
        time_ms: int,
        error: ErrorPayload,
        strategy: str | None = None,
    ) -> ErrorEvent:
        """Build the event and its deterministic id."""
        parts = (source, run_id, strategy, symbol, interval, time_ms, error.category, error.signal_event_id)
        return cls(
            event_id=event_id("error", *parts),
            source=source,
            run_id=run_id,
            strategy=strategy,
            symbol=symbol,
            interval=interval,
            time_ms=time_ms,
            error=error,
        )


Event = Annotated[
    CandleEvent | IndicatorEvent | SignalEvent | TradeEvent | LockEvent | ErrorEvent,
    Field(discriminator="schema_name"),
]
"""Any event; ``schema_name`` tells which."""
