"""The bot file: which strategies a bot follows, its broker, its capital and how it is split, its
protections. A TOML file read by :func:`load_bot` into a frozen, strict :class:`Bot`."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from cryptoflow.candles import interval_ms
from cryptoflow.config import Settings, read_toml
from cryptoflow.errors import ConfigurationError, CryptoflowError, DataError
from cryptoflow.strategies import Strategy, load_strategy, strategy_class

__all__ = [
    "Bot",
    "BrokerKind",
    "CapitalSettings",
    "CooldownSettings",
    "DailyLossSettings",
    "EntrySettings",
    "FollowedStrategy",
    "MaxDrawdownSettings",
    "ProtectionSettings",
    "StoplossGuardSettings",
    "check_broker",
    "load_bot",
]

BrokerKind = Literal["paper", "testnet", "live"]
"""Where a bot's orders go: simulated fills, Binance's futures testnet, or the real account."""

_TOTAL = 1.0 + 1e-9  # allocations add up in floating point (0.1 + 0.2 ...)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CapitalSettings(_Strict):
    """``[capital]``: the bot's money and how a position uses it.

    total: the bot's capital in quote currency (USDT). fraction: share of a (strategy, symbol) budget
    committed per position (1.0 = all of it, the meaning of ``--fraction``). leverage: notional
    multiplier, set on the exchange before trading. margin_type: ``ISOLATED`` or ``CROSSED``.
    """

    total: float = Field(gt=0, description="the bot's capital in quote currency")
    fraction: float = Field(1.0, gt=0, le=1)
    leverage: int = Field(1, ge=1, le=125)
    margin_type: Literal["ISOLATED", "CROSSED"] = "ISOLATED"


class EntrySettings(_Strict):
    """``[entry]``: how entries are ordered.

    type: ``market``, or ``limit``, posted at close × (1 + aggressiveness) for a long and close ×
    (1 − aggressiveness) for a short. timeout_s: how long a limit order may rest unfilled; then it is
    cancelled and re-priced from the last price, at most ``reprices`` times, then given up (a partial
    fill is kept as the position).
    """

    type: Literal["market", "limit"] = "market"
    aggressiveness: float = Field(0.0005, ge=0, lt=0.1, description="fraction of the price")
    timeout_s: float = Field(30.0, gt=0, le=3600)
    reprices: int = Field(0, ge=0, le=20)


class _Lock(_Strict):
    """How long a protection locks entries once it triggers: ``stop_duration_candles`` candles or
    ``stop_duration`` minutes (exactly one, as in freqtrade)."""

    stop_duration_candles: int | None = Field(None, ge=1)
    stop_duration: float | None = Field(None, gt=0, description="minutes")

    @model_validator(mode="after")
    def _one_duration(self) -> _Lock:
        if (self.stop_duration_candles is None) == (self.stop_duration is None):
            raise ValueError("give exactly one of stop_duration_candles (candles) or stop_duration (minutes)")
        return self

    def duration_ms(self, interval: int) -> int:
        """The lock's length in milliseconds for candles ``interval`` ms long."""
        if self.stop_duration_candles is not None:
            return self.stop_duration_candles * interval
        return round((self.stop_duration or 0.0) * 60_000)


class _Lookback(_Lock):
    """A lock that looks back over recent trades: ``lookback_period_candles`` candles or
    ``lookback_period`` minutes (exactly one)."""

    lookback_period_candles: int | None = Field(None, ge=1)
    lookback_period: float | None = Field(None, gt=0, description="minutes")
    trade_limit: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _one_lookback(self) -> _Lookback:
        if (self.lookback_period_candles is None) == (self.lookback_period is None):
            raise ValueError(
                "give exactly one of lookback_period_candles (candles) or lookback_period (minutes)"
            )
        return self

    def lookback_ms(self, interval: int) -> int:
        """The lookback window in milliseconds for candles ``interval`` ms long."""
        if self.lookback_period_candles is not None:
            return self.lookback_period_candles * interval
        return round((self.lookback_period or 0.0) * 60_000)


class CooldownSettings(_Lock):
    """``[protections.cooldown]`` (freqtrade's CooldownPeriod): no entry on a symbol for the lock's
    duration after a position on it closed by a stop (``stop_loss``, ``trailing_stop``); with
    ``only_stop_loss = false`` after any exit."""

    only_stop_loss: bool = True


class StoplossGuardSettings(_Lookback):
    """``[protections.stoploss_guard]`` (freqtrade's StoplossGuard): ``trade_limit`` stops with a profit
    below ``required_profit`` (a fraction of the entry notional, 0 = every losing stop) within the
    lookback lock entries, on that symbol (``only_per_pair``) or on all."""

    only_per_pair: bool = False
    required_profit: float = 0.0


class MaxDrawdownSettings(_Lookback):
    """``[protections.max_drawdown]`` (freqtrade's MaxDrawdown): when the bot's realised equity fell by
    ``max_allowed_drawdown`` (a fraction, 0.2 = 20 %) or more from a peak within the lookback, over at
    least ``trade_limit`` trades, every entry is locked."""

    max_allowed_drawdown: float = Field(gt=0, lt=1)


class DailyLossSettings(_Strict):
    """``[protections.daily_loss]``: a strategy that lost ``max_loss`` (a fraction of its capital, 0.05 =
    5 %) or more on trades closed during the current UTC day enters nothing more until the next UTC
    midnight. Other strategies keep trading."""

    max_loss: float = Field(gt=0, le=1)


class ProtectionSettings(_Strict):
    """``[protections]``: each one is off unless its key or table is present."""

    max_open_positions: int | None = Field(None, ge=1)
    cooldown: CooldownSettings | None = None
    stoploss_guard: StoplossGuardSettings | None = None
    max_drawdown: MaxDrawdownSettings | None = None
    daily_loss: DailyLossSettings | None = None


class FollowedStrategy(_Strict):
    """``[[strategies]]``: one strategy the bot trades.

    strategy: a built-in name, ``file.py[:Class]`` (relative to the bot file's folder) or
    ``package.module:Class``, as ``--strategy`` takes it. run_id: the run of the ``signals`` worker
    whose signals this bot trades; it names this strategy in the bot (budgets, positions, trades), so it
    is unique in the file. params: parameter overrides. fraction: share of the bot's capital (all the
    strategies together at most 1.0); when no strategy gives one, the capital is split equally.
    symbols: share of this strategy's capital per symbol (together at most 1.0); when absent, the
    strategy trades every symbol of the bot with an equal share.
    """

    strategy: str = Field(min_length=1)
    run_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._:\-]+$")
    params: dict[str, float | int | str | bool | None] = Field(default_factory=dict)
    fraction: float | None = Field(None, gt=0, le=1)
    symbols: dict[str, float] | None = None

    _name: str = PrivateAttr("")

    @property
    def name(self) -> str:
        """The strategy's own name (``basic``, ``rsi_dip``): what its signal events carry."""
        return self._name

    def load(self) -> Strategy:
        """A fresh instance of the strategy with this entry's parameters."""
        return load_strategy(self.strategy, **self.params)

    def describe(self) -> str:
        """``basic (run sig-basic)``: how logs and skip reasons name it."""
        return f"{self.name} (run {self.run_id})"


class Bot(_Strict):
    """A bot: the strategies it follows, where it trades and with how much. See :func:`load_bot`."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._\-]+$")
    interval: str
    symbols: list[str] = Field(min_length=1)
    broker: BrokerKind = "paper"
    live_confirmed: bool = False
    capital: CapitalSettings
    entry: EntrySettings = Field(default_factory=EntrySettings)
    strategies: list[FollowedStrategy] = Field(min_length=1)
    protections: ProtectionSettings = Field(default_factory=ProtectionSettings)

    _source: str = PrivateAttr("bot")

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        try:
            interval_ms(value)
        except DataError as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def source(self) -> str:
        """``bot file 'bots/a.toml'``: how messages name where this bot was read from."""
        return self._source

    @property
    def interval_ms(self) -> int:
        """The length of the bot's candles in milliseconds."""
        return interval_ms(self.interval)

    def follows(self, strategy: str, run_id: str) -> FollowedStrategy | None:
        """The followed strategy whose signals carry ``strategy`` and ``run_id``, or ``None``."""
        for followed in self.strategies:
            if followed.run_id == run_id and followed.name == strategy:
                return followed
        return None

    def strategy(self, run_id: str) -> FollowedStrategy:
        """The followed strategy named by ``run_id``; ``KeyError`` when there is none."""
        for followed in self.strategies:
            if followed.run_id == run_id:
                return followed
        raise KeyError(run_id)

    @model_validator(mode="after")
    def _normalise(self) -> Bot:
        symbols = [symbol.strip().upper() for symbol in self.symbols]
        object.__setattr__(self, "symbols", symbols)
        return self


# ---- reading the file ------------------------------------------------------------------------------


def _field(loc: tuple[Any, ...]) -> str:
    """``strategies[2].fraction`` from pydantic's ``('strategies', 1, 'fraction')`` (entries counted
    from 1, as a reader counts ``[[strategies]]`` tables)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model an annotation holds (``X``, ``X | None``, ``list[X]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for inner in getattr(annotation, "__args__", ()):
        found = _model_in(inner)
        if found is not None:
            return found
    return None


def _known(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model that ``loc`` (ending in an unknown key) sits in."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if current is not None else None
        current = _model_in(field.annotation) if field is not None else None
    return list(current.model_fields) if current is not None else []


def _describe(error: ErrorDetails) -> str:
    loc = tuple(error.get("loc", ()))
    name = _field(loc)
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    kind = error.get("type")
    if kind == "missing":
        return f"{name}: missing; add it (see docker/bot.example.toml)"
    if kind == "extra_forbidden":
        known = _known(Bot, loc)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
        return f"{name}: unknown setting; {hint}"
    value = error.get("input")
    if isinstance(value, dict | list):
        return f"{name}: {message}"
    return f"{name}: {message} (got {value!r})"


def _read(path: Path) -> dict[str, Any]:
    where = f"bot file {str(path)!r}"
    if path.is_dir():
        raise ConfigurationError(f"{where} is a folder; give the path of a TOML file")
    if not path.exists():
        raise ConfigurationError(f"{where} does not exist")
    return read_toml(path, where)


def _strategy_spec(spec: str, folder: Path) -> str:
    """A ``file.py[:Class]`` spec made absolute against the bot file's folder; others as given."""
    target, colon, class_name = spec.partition(":")
    if not target.endswith(".py") or Path(target).is_absolute():
        return spec
    return str((folder / target).resolve()) + colon + class_name


def _resolve_strategies(entries: object) -> tuple[list[str], dict[int, str]]:
    """Load every ``[[strategies]]`` entry once, from the file's raw tables (so that a wrong strategy is
    reported together with any other problem): its spec and parameters must name a real strategy.
    Returns the problems and the strategies' own names by entry index (from 0)."""
    problems: list[str] = []
    names: dict[int, str] = {}
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict) or not isinstance(entry.get("strategy"), str):
            continue  # the model says what is wrong with it
        params = entry.get("params", {})
        try:
            cls = strategy_class(entry["strategy"])
        except CryptoflowError as exc:
            problems.append(f"strategies[{index + 1}].strategy: {exc}")
            continue
        try:
            load_strategy(entry["strategy"], **(params if isinstance(params, dict) else {}))
        except CryptoflowError as exc:
            problems.append(f"strategies[{index + 1}].params: {exc}")
            continue
        names[index] = cls.name
    return problems, names


def _allocation_problems(bot: Bot) -> list[str]:
    """Allocations above 100 %, half-given fractions, per-symbol shares of symbols the bot does not
    trade."""
    problems = []
    given = [s.fraction for s in bot.strategies if s.fraction is not None]
    if given and len(given) != len(bot.strategies):
        missing = [str(i) for i, s in enumerate(bot.strategies, start=1) if s.fraction is None]
        problems.append(
            f"strategies[{', '.join(missing)}].fraction: missing; give every strategy a fraction of "
            "the capital, or none (then the capital is split equally)"
        )
    total = sum(given)
    if total > _TOTAL:
        shares = " + ".join(f"{s.fraction:g}" for s in bot.strategies if s.fraction is not None)
        problems.append(
            f"strategies[*].fraction: the strategies' shares add up to {total:.0%} ({shares}), above "
            "100% of the capital; lower them so that they add up to at most 1.0"
        )
    for index, followed in enumerate(bot.strategies, start=1):
        if followed.symbols is None:
            continue
        where = f"strategies[{index}].symbols"
        unknown = sorted(set(map(str.upper, followed.symbols)) - set(bot.symbols))
        if unknown:
            problems.append(
                f"{where}: {', '.join(unknown)} not in the bot's symbols ({', '.join(bot.symbols)}); "
                "add them to symbols or remove them here"
            )
        bad = [k for k, v in followed.symbols.items() if not 0 < v <= 1]
        if bad:
            problems.append(f"{where}: the share of {', '.join(bad)} must be above 0 and at most 1.0")
        symbol_total = sum(followed.symbols.values())
        if symbol_total > _TOTAL:
            problems.append(
                f"{where}: the symbols' shares add up to {symbol_total:.0%}, above 100% of "
                f"{followed.strategy}'s capital; lower them so that they add up to at most 1.0"
            )
    return problems


def _identity_problems(bot: Bot) -> list[str]:
    problems = []
    seen: dict[str, int] = {}
    for index, followed in enumerate(bot.strategies, start=1):
        if followed.run_id in seen:
            problems.append(
                f"strategies[{index}].run_id: {followed.run_id!r} is already the run of strategies"
                f"[{seen[followed.run_id]}]; each followed strategy trades the signals of its own run"
            )
        seen.setdefault(followed.run_id, index)
    if len(set(bot.symbols)) != len(bot.symbols):
        problems.append("symbols: a symbol is listed twice; list each once")
    return problems


def load_bot(path: Path | str) -> Bot:
    """Read and check a bot file.

    Every problem is reported at once, one line each, naming the file and the field
    (``strategies[2].fraction``, entries counted from 1) and saying how to fix it: a malformed file, an
    unknown or missing setting, a strategy that does not exist (resolved as ``--strategy`` resolves it;
    a relative ``file.py`` is relative to the bot file's folder) or parameters it does not have, and,
    once the rest is well formed, an allocation above 100 %. Raises
    :class:`~cryptoflow.errors.ConfigurationError`.

    The broker's own requirements (``--live``, API keys) depend on the command line and the settings:
    :func:`check_broker` checks them.

    >>> bot = load_bot("docker/bot.example.toml")  # doctest: +SKIP
    >>> [s.describe() for s in bot.strategies]  # doctest: +SKIP
    ['basic (run sig-basic)', 'custom (run sig-custom)']
    """
    path = Path(path)
    where = f"bot file {str(path)!r}"
    data = _read(path)
    strategies = data.get("strategies")
    if isinstance(strategies, list):
        for entry in strategies:
            if isinstance(entry, dict) and isinstance(entry.get("strategy"), str):
                entry["strategy"] = _strategy_spec(entry["strategy"], path.parent)
            if isinstance(entry, dict) and isinstance(entry.get("symbols"), Mapping):
                entry["symbols"] = {str(k).upper(): v for k, v in entry["symbols"].items()}
    problems, names = _resolve_strategies(data.get("strategies"))
    try:
        bot = Bot.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(error) for error in exc.errors(include_url=False)]
        raise ConfigurationError(f"{where}:\n  " + "\n  ".join(lines + problems)) from None
    problems = _identity_problems(bot) + _allocation_problems(bot) + problems
    if problems:
        raise ConfigurationError(f"{where}:\n  " + "\n  ".join(problems))
    for index, followed in enumerate(bot.strategies):
        followed._name = names[index]
    bot._source = where
    return bot


def check_broker(bot: Bot, *, live_flag: bool, settings: Settings) -> None:
    """Check that the bot may use its broker: ``live`` needs ``live_confirmed = true`` in the file or
    ``--live`` on the command line (``live_flag``), and ``testnet`` and ``live`` need Binance API keys
    in the settings. Raises :class:`~cryptoflow.errors.ConfigurationError` naming the file and field;
    the keys are never shown."""
    if bot.broker == "live" and not (bot.live_confirmed or live_flag):
        raise ConfigurationError(
            f"{bot.source}: broker: 'live' trades real money; confirm it with live_confirmed = true in "
            "the file or --live on the command line"
        )
    if live_flag and bot.broker != "live":
        raise ConfigurationError(
            f"{bot.source}: broker: --live confirms real-money trading but the bot's broker is "
            f'{bot.broker!r}; drop --live, or set broker = "live"'
        )
    if bot.broker in ("testnet", "live"):
        missing = [
            f"CRYPTOFLOW_BINANCE__{name.upper()}"
            for name in ("api_key", "api_secret")
            if getattr(settings.binance, name) is None
        ]
        if missing:
            raise ConfigurationError(
                f"{bot.source}: broker: {bot.broker!r} needs Binance API keys; set "
                f"{' and '.join(missing)} (environment or .env)"
            )
