"""The portfolio backtest: hand-built cases for each branch of the conflict rule and each protection,
the exchange-side stop and take-profit inside a hand-built candle, equality with the single-strategy
backtest, and a run of three strategies over the five real 2025-08 symbols."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtesting import (
    BacktestConfig,
    PortfolioResult,
    PortfolioSignal,
    backtest_symbol,
    run_portfolio_backtest,
    strategy_signals,
)
from backtesting._kernel import protective_exit
from cryptoflow.binance import SymbolFilters
from cryptoflow.candles import load_candles
from cryptoflow.errors import ConfigurationError
from cryptoflow.events import SignalAction
from cryptoflow.portfolio import Bot, Intent, load_bot
from cryptoflow.strategies import load_strategy

SCRIPTED = Path(__file__).with_name("_scripted.py")
T = 1_754_006_400_000  # 2025-08-01 00:00 UTC
CANDLE = 300_000
FEE = 0.0004


def candles(volumes: list[int], closes: list[float] | None = None, symbol: str = "ETHUSDT") -> pd.DataFrame:
    """5m candles from T: each opens at the last close and spans ±0.1 around its body; ``volumes``
    carry the scripted strategies' signals (see ``_scripted.py``)."""
    close = np.asarray(closes if closes is not None else [100.0] * len(volumes), dtype=float)
    open_ = np.concatenate([[close[0]], close[:-1]])
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + 0.1,
            "low": np.minimum(open_, close) - 0.1,
            "close": close,
            "volume": np.asarray(volumes, dtype=float),
        },
        index=pd.date_range(pd.Timestamp(T, unit="ms", tz="UTC"), periods=len(close), freq="5min"),
    )
    frame.attrs.update(symbol=symbol, interval="5m")
    return frame


def bot_file(
    tmp_path: Path,
    runs: list[tuple[str, int]],
    *,
    symbols: tuple[str, ...] = ("ETHUSDT",),
    protections: str = "",
    broker: str = "paper",
    params: str = "",
) -> Bot:
    """A bot following the scripted strategy once per ``(run_id, bit)``, with 10,000 USDT."""
    text = f'name = "test"\ninterval = "5m"\nsymbols = {list(symbols)!r}\nbroker = "{broker}"\n'
    text += "[capital]\ntotal = 10000.0\n"
    for run_id, bit in runs:
        text += (
            f'[[strategies]]\nstrategy = "{SCRIPTED}:Scripted"\nrun_id = "{run_id}"\n'
            f"params = {{ bit = {bit}{params} }}\n"
        )
    text += protections
    path = tmp_path / "bot.toml"
    path.write_text(text.replace("'", '"'))
    return load_bot(path)


def codes(result: PortfolioResult) -> list[tuple[int, str, str, str]]:
    """Every decision as (candle, run, action, code)."""
    return [
        (int((row.time.value // 1_000_000 - T) // CANDLE), row.run_id, row.action, row.code)
        for row in result.decisions.itertuples(index=False)
    ]


def trades(result: PortfolioResult) -> list[tuple[str, str, int, int, str]]:
    """Every trade as (run, symbol, entry candle, exit candle, exit reason)."""
    return [
        (
            row.run_id,
            row.symbol,
            int((row.entry_time.value // 1_000_000 - T) // CANDLE),
            int((row.exit_time.value // 1_000_000 - T) // CANDLE),
            row.exit_reason,
        )
        for row in result.trades.itertuples(index=False)
    ]


# ---- the conflict rule --------------------------------------------------------------------------


def test_held_by_other_skips_the_other_strategys_entry_and_exit(tmp_path: Path) -> None:
    bot = bot_file(tmp_path, [("a", 1), ("b", 16)])
    # a enters on candle 1, b on 2 (the symbol is a's), b exits on 3, a exits on 4
    result = run_portfolio_backtest(bot, {"ETHUSDT": candles([0, 1, 16, 32, 2, 0])})
    assert codes(result) == [
        (1, "a", "entry_long", "enter"),
        (2, "b", "entry_long", "held_by_other"),
        (3, "b", "exit_long", "held_by_other"),
        (4, "a", "exit_long", "exit"),
    ]
    assert trades(result) == [("a", "ETHUSDT", 1, 4, "signal")]
    assert result.skips == {"held_by_other": 2}


@pytest.mark.parametrize("order", [["a", "b"], ["b", "a"]])
def test_on_one_candle_the_first_strategy_in_the_bot_file_wins(tmp_path: Path, order: list[str]) -> None:
    bits = {"a": 1, "b": 16}
    bot = bot_file(tmp_path, [(run, bits[run]) for run in order])
    # both enter on candle 1; the second one's virtual position exits on 2, the first one's on 3
    first, second = order
    volumes = [0, 1 | 16, 32 if first == "a" else 2, 2 if first == "a" else 32, 0]
    result = run_portfolio_backtest(bot, {"ETHUSDT": candles(volumes)})
    assert trades(result) == [(first, "ETHUSDT", 1, 3, "signal")]
    assert [c for c in codes(result) if c[1] == second] == [
        (1, second, "entry_long", "held_by_other"),
        (2, second, "exit_long", "held_by_other"),
    ]


def signal(
    run_id: str, action: SignalAction, bar: int, price: float = 100.0, **options: str
) -> PortfolioSignal:
    symbol = options.get("symbol", "ETHUSDT")
    intent = Intent("scripted", run_id, symbol, action, T + bar * CANDLE, price)
    return PortfolioSignal(intent, options.get("reason", "signal" if action.startswith("exit") else ""))


def test_the_owners_second_entry_is_already_open(tmp_path: Path) -> None:
    bot = bot_file(tmp_path, [("a", 1)])
    # a signal delivered twice (or a strategy that pyramids): the second entry is refused
    given = [signal("a", "entry_long", 1), signal("a", "entry_long", 2), signal("a", "exit_long", 3)]
    result = run_portfolio_backtest(bot, {"ETHUSDT": candles([0] * 5)}, signals=given)
    assert [c[3] for c in codes(result)] == ["enter", "already_open", "exit"]
    assert trades(result) == [("a", "ETHUSDT", 1, 3, "signal")]


@pytest.mark.parametrize("order", [["a", "b"], ["b", "a"]])
def test_an_exit_goes_before_an_entry_on_one_candle_and_the_symbol_waits_a_candle(
    tmp_path: Path, order: list[str]
) -> None:
    bits = {"a": 1, "b": 16}
    bot = bot_file(tmp_path, [(run, bits[run]) for run in order])
    # a holds from 1; on candle 3 a exits and b enters; b's virtual position exits on 4, enters on 5
    volumes = [0, 1, 0, 2 | 16, 32, 16, 0, 32, 0]
    result = run_portfolio_backtest(bot, {"ETHUSDT": candles(volumes)})
    assert codes(result) == [
        (1, "a", "entry_long", "enter"),
        (3, "a", "exit_long", "exit"),
        (3, "b", "entry_long", "closed_this_candle"),
        (4, "b", "exit_long", "no_position"),
        (5, "b", "entry_long", "enter"),
        (7, "b", "exit_long", "exit"),
    ]
    assert trades(result) == [("a", "ETHUSDT", 1, 3, "signal"), ("b", "ETHUSDT", 5, 7, "signal")]


# ---- protections ----------------------------------------------------------------------------------

_ONE_SYMBOL = ("ETHUSDT",)
_THREE = ("ETHUSDT", "BTCUSDT", "SOLUSDT")

PROTECTIONS = {
    "max_open_positions": (
        "[protections]\nmax_open_positions = 1\n",
        ("ETHUSDT", "BTCUSDT"),
        [
            signal("a", "entry_long", 1),
            signal("a", "entry_long", 2, symbol="BTCUSDT"),
        ],
    ),
    "cooldown": (
        "[protections.cooldown]\nstop_duration_candles = 3\n",
        _ONE_SYMBOL,
        [
            signal("a", "entry_long", 1),
            signal("a", "exit_long", 2, 95.0, reason="stop_loss"),
            signal("a", "entry_long", 5),  # the lock covers candles 3 to 5
        ],
    ),
    "stoploss_guard": (
        "[protections.stoploss_guard]\nlookback_period_candles = 12\ntrade_limit = 2\n"
        "stop_duration_candles = 6\n",
        _THREE,
        [
            signal("a", "entry_long", 1),
            signal("a", "exit_long", 2, 95.0, reason="stop_loss"),
            signal("a", "entry_long", 3, symbol="BTCUSDT"),
            signal("a", "exit_long", 4, 95.0, reason="stop_loss", symbol="BTCUSDT"),
            signal("a", "entry_long", 5, symbol="SOLUSDT"),
        ],
    ),
    "max_drawdown": (
        "[protections.max_drawdown]\nlookback_period_candles = 100\ntrade_limit = 1\n"
        "stop_duration_candles = 10\nmax_allowed_drawdown = 0.1\n",
        _ONE_SYMBOL,
        [
            signal("a", "entry_long", 1),
            signal("a", "exit_long", 2, 85.0),  # 15 % of the capital lost, by an exit signal
            signal("a", "entry_long", 3),
        ],
    ),
    "daily_loss": (
        "[protections.daily_loss]\nmax_loss = 0.05\n",
        _ONE_SYMBOL,
        [
            signal("a", "entry_long", 1),
            signal("a", "exit_long", 2, 94.0),  # 6 % of the strategy's capital, today
            signal("a", "entry_long", 3),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(PROTECTIONS))
@pytest.mark.parametrize("on", [True, False], ids=["on", "off"])
def test_each_protection_blocks_an_entry_and_without_it_the_entry_happens(
    tmp_path: Path, name: str, on: bool
) -> None:
    settings, symbols, given = PROTECTIONS[name]
    bot = bot_file(tmp_path, [("a", 1)], symbols=symbols, protections=settings if on else "")
    frames = {symbol: candles([0] * 20, symbol=symbol) for symbol in symbols}
    result = run_portfolio_backtest(bot, frames, signals=given)
    last = result.decisions.iloc[-1]
    if on:
        assert (last.verdict, last.code) == ("skip", "locked")
        assert name in last.reason
        assert list(result.locks["protection"]) == [name]
        assert result.skips == {"locked": 1}
    else:
        assert (last.verdict, last.code) == ("enter", "enter")
        assert result.skips == {}
        assert result.locks.empty
    assert (result.decisions["verdict"].iloc[:-1] != "skip").all()  # the signals before it all went through


# ---- exchange-side stop-loss and take-profit -----------------------------------------------------


def protected(
    tmp_path: Path,
    candle: tuple[float, float, float, float],
    *,
    broker: str = "testnet",
    entry: float = 100.0,
    **kw,
) -> PortfolioResult:
    """A long entered at ``entry`` on candle 0 (stop 2 %, take-profit 3 %), the hand-built ``candle``
    (open, high, low, close) next, and the strategy's exit signal on candle 2."""
    bot = bot_file(tmp_path, [("a", 1)], broker=broker, params=", stop_loss_pct = 2.0, take_profit_pct = 3.0")
    frame = candles([1, 0, 2, 0], [entry, 100.0, 100.0, 100.0])
    frame.iloc[1, :4] = candle
    return run_portfolio_backtest(bot, {"ETHUSDT": frame}, fee_rate=FEE, **kw)


def test_a_rising_candle_meets_the_stop_first(tmp_path: Path) -> None:
    # open -> low -> high -> close: the low (97.9) reaches the stop (98) before the high the take-profit
    result = protected(tmp_path, (100.5, 103.5, 97.9, 101.0))
    assert trades(result) == [("a", "ETHUSDT", 0, 1, "stop_loss")]
    trade = result.trades.iloc[0]
    assert trade.exit_price == 98.0
    quantity = 10_000 / 100.0
    assert trade.quantity == quantity
    assert trade.fees == pytest.approx(quantity * 100.0 * FEE + quantity * 98.0 * FEE, rel=1e-12)
    assert trade.pnl == pytest.approx(quantity * (98.0 - 100.0) - trade.fees, rel=1e-12)
    assert codes(result)[-1] == (2, "a", "exit_long", "no_position")  # the exchange closed it first


def test_a_falling_candle_meets_the_take_profit_first(tmp_path: Path) -> None:
    # open -> high -> low -> close: the high (103.5) reaches the take-profit (103) first
    result = protected(tmp_path, (100.5, 103.5, 97.9, 99.0))
    assert trades(result) == [("a", "ETHUSDT", 0, 1, "take_profit")]
    assert result.trades.iloc[0].exit_price == 103.0


def test_a_gap_over_the_stop_fills_at_the_open(tmp_path: Path) -> None:
    result = protected(tmp_path, (97.0, 97.5, 96.5, 97.2))
    assert trades(result) == [("a", "ETHUSDT", 0, 1, "stop_loss")]
    assert result.trades.iloc[0].exit_price == 97.0


def test_trigger_prices_lie_on_the_tick(tmp_path: Path) -> None:
    # entry 100.3: the stop 98.294 is 98.5 on a 0.5 tick, which a low of 98.4 reaches
    tick = SymbolFilters("ETHUSDT", Decimal("0.5"), Decimal("0.001"), Decimal("0.001"), Decimal("5"))
    candle = (100.2, 100.6, 98.4, 100.4)
    assert trades(protected(tmp_path, candle, entry=100.3)) == [("a", "ETHUSDT", 0, 2, "signal")]
    result = protected(tmp_path, candle, entry=100.3, filters={"ETHUSDT": tick})
    assert trades(result) == [("a", "ETHUSDT", 0, 1, "stop_loss")]
    assert result.trades.iloc[0].exit_price == 98.5
    assert result.trades.iloc[0].quantity == pytest.approx(99.7, abs=1e-9)  # rounded down to the step


def test_a_paper_bot_has_no_exchange_side_protection(tmp_path: Path) -> None:
    result = protected(tmp_path, (100.5, 103.5, 97.9, 101.0), broker="paper")
    assert not result.exchange_protection
    assert trades(result) == [("a", "ETHUSDT", 0, 2, "signal")]
    forced = protected(tmp_path, (100.5, 103.5, 97.9, 101.0), broker="paper", exchange_protection=True)
    assert trades(forced) == [("a", "ETHUSDT", 0, 1, "stop_loss")]


# ---- against the single-strategy backtest and on real candles -------------------------------------


def test_one_strategy_one_symbol_trades_as_the_single_strategy_backtest(
    shared_data: Path, tmp_path: Path
) -> None:
    path = tmp_path / "bot.toml"
    path.write_text(
        'name = "one"\ninterval = "5m"\nsymbols = ["ETHUSDT"]\n[capital]\ntotal = 10000.0\n'
        '[[strategies]]\nstrategy = "ensemble"\nrun_id = "sig-ensemble"\n'
    )
    bot = load_bot(path)
    frame = load_candles(shared_data / "ETHUSDT_5m_2025-08.csv")
    # no slippage: a strategy's virtual position enters at the close, while a single-strategy backtest
    # with slippage sets its stop and take-profit from the slipped fill (other exits, other signals)
    result = run_portfolio_backtest(bot, {"ETHUSDT": frame}, fee_rate=FEE)
    config = BacktestConfig(cash=10_000, fill="close", fee_rate=FEE)
    single = backtest_symbol(frame, bot.strategies[0].load(), config, symbol="ETHUSDT")
    got, want = result.trades, single.trades
    assert len(got) == len(want) > 30
    for column in ("side", "entry_time", "exit_time", "exit_reason", "entry_price", "exit_price"):
        assert got[column].tolist() == want[column].tolist(), column
    # the sizing rule: the whole budget (the capital) at every entry, not the compounded equity
    assert np.allclose(got["quantity"], 10_000 / got["entry_price"], rtol=1e-12)
    assert got["quantity"].iloc[0] == pytest.approx(want["quantity"].iloc[0], rel=1e-12)
    assert got["fees"].iloc[0] == pytest.approx(want["fees"].iloc[0], rel=1e-12)
    assert got["pnl"].iloc[0] == pytest.approx(want["pnl"].iloc[0], rel=1e-12)
    assert [p["entry_time"] for p in result.open_positions] == (
        [single.open_position["entry_time"]] if single.open_position else []
    )


def test_three_strategies_over_five_real_symbols(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    symbols = ["ETHUSDT", "BTCUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"]
    path.write_text(
        f'name = "three"\ninterval = "5m"\nsymbols = {symbols!r}\nbroker = "testnet"\n'.replace("'", '"')
        + "[capital]\ntotal = 10000.0\nleverage = 2\n"
        + "".join(
            f'[[strategies]]\nstrategy = "{name}"\nrun_id = "sig-{name}"\n'
            for name in ("basic", "custom", "ensemble")
        )
        + "[protections]\nmax_open_positions = 3\n[protections.cooldown]\nstop_duration_candles = 3\n"
    )
    bot = load_bot(path)
    frames = {s: load_candles(shared_data / f"{s}_5m_2025-08.csv") for s in symbols}
    result = run_portfolio_backtest(bot, frames)
    assert result.exchange_protection
    assert len(result.trades) > 50
    assert set(result.trades["run_id"]) == {"sig-basic", "sig-custom", "sig-ensemble"}
    assert set(result.trades["symbol"]) == set(symbols)
    # one owner per symbol: a symbol's trades never overlap
    for _, group in result.trades.sort_values("entry_time").groupby("symbol"):
        assert (group["entry_time"].iloc[1:].to_numpy() > group["exit_time"].iloc[:-1].to_numpy()).all()
    # every entry decided "enter" is a trade or an open position; every skip has its reason
    entered = (result.decisions["verdict"] == "enter").sum()
    assert entered == len(result.trades) + len(result.open_positions)
    assert sum(result.skips.values()) == (result.decisions["verdict"] == "skip").sum()
    assert {"held_by_other", "locked", "no_position"} <= set(result.skips)
    assert set(result.locks["protection"]) <= {"max_open_positions", "cooldown"}
    assert result.stats["n_trades"] == len(result.trades)
    assert result.stats["final_equity"] == pytest.approx(
        10_000 + result.trades["pnl"].sum() + sum(p["unrealized_pnl"] for p in result.open_positions)
    )
    assert result.breakdown("run_id")["trades"].sum() == len(result.trades)


@pytest.mark.parametrize("side", [1, -1], ids=["long", "short"])
def test_protective_exit_fills_where_the_fake_exchange_fills(shared_data: Path, side: int) -> None:
    """The kernel against the fake exchange's own order desk, on real candles: a position entered at a
    close, its closePosition STOP_MARKET and TAKE_PROFIT_MARKET algo orders, the candles replayed with
    intrabar snapshots; the candle and price of the fill agree, for many windows and levels."""
    from cryptoflow.testing.fake_binance import FuturesAccount, OrderDesk, ReplayMarket

    eth = load_candles(shared_data / "ETHUSDT_5m_2025-08.csv")
    rng = np.random.default_rng(7)
    compared = 0
    for start in rng.integers(0, len(eth) - 400, size=12):
        frame = eth.iloc[int(start) : int(start) + 300]
        market = ReplayMarket({"ETHUSDT": frame}, "5m", history=1, updates_per_candle=2)
        desk = OrderDesk(FuturesAccount(market, balance=1e9))
        entry = market.price("ETHUSDT")
        stop_pct, take_pct = rng.uniform(0.002, 0.02, size=2)
        stop = market.rules["ETHUSDT"].on_tick(entry * (1 - side * stop_pct))
        take = market.rules["ETHUSDT"].on_tick(entry * (1 + side * take_pct))
        buy, sell = ("BUY", "SELL") if side == 1 else ("SELL", "BUY")
        desk.new_order({"symbol": "ETHUSDT", "side": buy, "type": "MARKET", "quantity": "0.010"})
        for kind, level in (("STOP_MARKET", stop), ("TAKE_PROFIT_MARKET", take)):
            desk.new_algo_order(
                {"algoType": "CONDITIONAL", "symbol": "ETHUSDT", "side": sell, "type": kind,
                 "triggerPrice": f"{level:.2f}", "closePosition": "true"}
            )  # fmt: skip
        fill = None
        while not market.finished and fill is None:
            open_time = int(market.grid[market.cursor])
            for batch in market.step():
                for state in batch:
                    desk.on_kline(state)
            if desk.account.positions["ETHUSDT"].amount == 0:
                fill = (open_time, float(desk.account.trades[-1]["price"]))
        prices = {
            name: np.ascontiguousarray(frame[name].to_numpy(dtype=float))
            for name in ("open", "high", "low", "close")
        }
        bar, price, _ = protective_exit(
            prices["open"], prices["high"], prices["low"], prices["close"], 1, side, stop, take
        )
        want = None if bar < 0 else (int(frame.index[bar].value // 1_000_000), price)
        assert want == fill, (int(start), side, stop, take)
        compared += fill is not None
    assert compared >= 8  # most windows reach a level


def test_an_entry_below_the_exchanges_minimum_is_skipped_as_rejected(tmp_path: Path) -> None:
    bot = bot_file(tmp_path, [("a", 1)])
    # 10,000 USDT of budget cannot buy the minimum notional of 20,000
    filters = SymbolFilters("ETHUSDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal("20000"))
    result = run_portfolio_backtest(bot, {"ETHUSDT": candles([0, 1, 2, 0])}, filters={"ETHUSDT": filters})
    assert [c[3] for c in codes(result)] == ["rejected", "no_position"]
    assert "notional" in result.decisions["reason"].iloc[0]
    assert result.trades.empty


def test_candles_of_another_interval_are_refused(tmp_path: Path) -> None:
    bot = bot_file(tmp_path, [("a", 1)])
    frame = candles([0, 1, 2, 0])
    frame.attrs["interval"] = "1h"
    with pytest.raises(
        ConfigurationError, match=r"interval: the bot decides on 5m candles but ETHUSDT's are 1h"
    ):
        run_portfolio_backtest(bot, {"ETHUSDT": frame})


def test_signals_from_start_are_warmed_up_on_the_candles_before_it(shared_data: Path) -> None:
    frame = load_candles(shared_data / "SOLUSDT_5m_2025-08.csv")
    strategy = load_strategy("ensemble")
    full = strategy_signals(frame, strategy, symbol="SOLUSDT", run_id="r")
    # from the candle after the 10th exit on, the virtual position of the whole run is flat again
    exits = [s.intent.candle_open_time for s in full if not s.intent.is_entry]
    start = pd.Timestamp(exits[9] + CANDLE, unit="ms", tz="UTC")
    later = [s for s in full if s.intent.candle_open_time >= start.value // 1_000_000]
    assert len(later) > 20
    assert strategy_signals(frame, strategy, symbol="SOLUSDT", run_id="r", start=start) == later
