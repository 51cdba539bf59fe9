"""The strategy contract: parameters, one override path, arrays and scalars alike, loading, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoflow.errors import ConfigurationError
from cryptoflow.strategies import (
    BUILTIN_STRATEGIES,
    CONTRACT_VERSION,
    BasicStrategy,
    Strategy,
    StrategyError,
    load_strategy,
    strategy_class,
)

COLUMNS = ("open", "high", "low", "close", "volume", "rsi", "macd", "macd_signal", "macd_hist", "cci")


def test_parameters_are_class_attributes_with_the_original_defaults():
    basic = load_strategy("basic")
    assert basic.params()["stop_loss_pct"] == 1.5 and basic.params()["take_profit_pct"] == 3.0
    assert (basic.rsi_oversold, basic.rsi_overbought) == (30.0, 70.0)
    custom = load_strategy("custom")
    assert (custom.rsi_oversold, custom.rsi_overbought) == (25.0, 70.0)
    assert custom.indicator_params() == {
        "rsi_period": 14, "macd_fast": 12, "macd_slow": 26, "macd_signal": 9, "cci_period": 20,
    }  # fmt: skip
    assert "plot_config" not in custom.params() and "name" not in custom.params()


def test_one_override_path_rejects_unknown_names_and_coerces_cli_strings():
    strategy = load_strategy("custom", rsi_oversold="20", rsi_period="10", trailing_stop_pct="2.5")
    assert (strategy.rsi_oversold, strategy.rsi_period, strategy.trailing_stop_pct) == (20.0, 10, 2.5)
    assert load_strategy("custom", stop_loss_pct="none").stop_loss_pct is None
    assert strategy.describe() == "custom(rsi_period=10, trailing_stop_pct=2.5, rsi_oversold=20)"
    assert BasicStrategy.rsi_oversold == 30.0  # class defaults untouched
    with pytest.raises(ConfigurationError, match="unknown parameter.*'rsi_oversld'.*known:"):
        load_strategy("custom", rsi_oversld=20)
    with pytest.raises(ConfigurationError, match="expects a number"):
        load_strategy("custom", rsi_oversold="low")
    with pytest.raises(ConfigurationError, match="stop_loss_pct"):
        load_strategy("basic", stop_loss_pct=-1)


finite = st.floats(-500, 500, allow_nan=False) | st.just(float("nan"))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(*[finite] * len(COLUMNS), st.sampled_from([-1.0, 0.0, 1.0, float("nan")])),
        min_size=1,
        max_size=20,
    ),
    name=st.sampled_from(sorted(BUILTIN_STRATEGIES)),
)
def test_rules_give_the_same_answer_on_arrays_and_on_scalars(rows, name):
    """Live trading evaluates one closed candle of scalars; the backtest the whole array at once."""
    strategy = load_strategy(name)
    table = np.array(rows, dtype=float)
    arrays = {col: table[:, k] for k, col in enumerate((*COLUMNS, "engulfing"))}
    vectorised = strategy.evaluate(arrays)
    for i in range(len(rows)):
        scalars = {col: np.float64(values[i]) for col, values in arrays.items()}
        one = strategy.evaluate(scalars)
        assert bool(one.entry_long) == vectorised.entry_long[i]
        assert bool(one.entry_short) == vectorised.entry_short[i]
        plain = {col: float(values[i]) for col, values in arrays.items()}  # plain Python floats too
        assert strategy.signal(plain) == ("long" if one.entry_long else "short" if one.entry_short else None)


def test_warm_up_nan_never_signals():
    nan = {col: np.full(3, np.nan) for col in (*COLUMNS, "engulfing")}
    for name in BUILTIN_STRATEGIES:
        signals = load_strategy(name).evaluate(nan)
        assert not signals.entry_long.any() and not signals.entry_short.any()


def test_builtin_rules():
    ind = {
        "macd": np.array([2.0, 2.0, -1.0, 1.0]),
        "macd_signal": np.array([1.0, 1.0, 0.0, 0.0]),
        "rsi": np.array([29.0, 29.0, 71.0, 20.0]),
        "cci": np.array([-99.0, -101.0, 99.0, 0.0]),
        "engulfing": np.array([1.0, 0.0, -1.0, 1.0]),
    }
    basic = load_strategy("basic").evaluate(ind)
    assert basic.entry_long.tolist() == [True, False, False, True]
    assert basic.entry_short.tolist() == [False, False, True, False]
    custom = load_strategy("custom").evaluate(ind)
    assert custom.entry_long.tolist() == [False, False, False, True]
    assert custom.entry_short.tolist() == [False, False, True, False]
    ensemble = load_strategy("ensemble", threshold=3)
    assert ensemble.score(ind).tolist() == [3.0, 3.0, -3.0, 3.0]
    assert ensemble.evaluate(ind).entry_long.tolist() == [True, True, False, True]
    assert load_strategy("ensemble", threshold=3.5).evaluate(ind).entry_long.tolist() == [False] * 4
    assert (
        load_strategy("ensemble", weight_rsi=0, threshold=3).evaluate(ind).entry_short.tolist() == [False] * 4
    )


USER_FILE = """
from cryptoflow.strategies import Strategy

class RsiDip(Strategy):
    name = "rsi_dip"
    rsi_below: float = 25.0

    def entry_long(self, ind):
        return ind["rsi"] < self.rsi_below
"""


def test_loading_by_name_file_and_class(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(USER_FILE)
    assert strategy_class("basic") is BasicStrategy
    strategy = load_strategy(str(path), rsi_below=10)
    assert strategy.name == "rsi_dip" and strategy.rsi_below == 10.0
    assert load_strategy(f"{path}:RsiDip").signal({"rsi": 20.0}) == "long"
    assert load_strategy("cryptoflow.strategies:CustomStrategy").name == "custom"
    with pytest.raises(ConfigurationError, match="unknown strategy 'nope'"):
        load_strategy("nope")
    with pytest.raises(ConfigurationError, match="no Strategy subclass named 'Other'.*RsiDip"):
        load_strategy(f"{path}:Other")
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_strategy(str(tmp_path / "absent.py"))
    (tmp_path / "pkg.py").mkdir()
    with pytest.raises(
        ConfigurationError, match=r"strategy file '.*pkg\.py' is a folder; give the \.py file"
    ):
        load_strategy(str(tmp_path / "pkg.py"))
    path.write_text(USER_FILE + "\nclass Second(RsiDip):\n    name = 'second'\n")
    with pytest.raises(ConfigurationError, match="exactly one"):
        load_strategy(str(path))


def test_contract_version_is_checked(tmp_path):
    path = tmp_path / "future.py"
    path.write_text(USER_FILE + "    contract_version = 99\n")
    with pytest.raises(ConfigurationError, match=f"contract version 99.*version {CONTRACT_VERSION}"):
        load_strategy(str(path))


def test_exceptions_inside_a_strategy_are_caught_and_named(tmp_path):
    class Faulty(Strategy):
        name = "faulty"

        def entry_short(self, ind):
            return ind["rsi"] > ind["missing"]

    with pytest.raises(
        StrategyError,
        match=r"strategy 'faulty' \(.*Faulty, .*test_contract\.py\) failed in entry_short: KeyError",
    ):
        Faulty().evaluate({"rsi": np.ones(3)})
    path = tmp_path / "boom.py"
    path.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(StrategyError, match="failed to import: RuntimeError: boom"):
        load_strategy(str(path))

    class WrongShape(Strategy):
        name = "wrong_shape"

        def entry_long(self, ind):
            return np.ones(2, dtype=bool)

    with pytest.raises(StrategyError, match="shape"):
        WrongShape().evaluate({"rsi": np.ones(3)})


def test_rules_must_return_booleans_on_arrays_and_on_scalars():
    class Says(Strategy):
        name = "says"
        answer: object = None

        def entry_long(self, ind):
            return self.answer

    arrays, scalars = {"rsi": np.array([20.0, 40.0])}, {"rsi": np.float64(20.0)}
    for answer, shown in (("no", "str 'no'"), (None, "None"), (0, "int 0"), (np.float64(1.0), "float64 1.0")):
        for ind in (arrays, scalars):
            strategy = Says()
            strategy.answer = answer
            with pytest.raises(StrategyError) as caught:
                strategy.evaluate(ind)
            message = str(caught.value)
            assert message.startswith("strategy 'says' (test_rules_must_return_booleans_on_arrays_and_on_")
            assert f"Says, {__file__}): rule entry_long returned {shown}; a rule must return bool" in message
    strategy = Says()
    for answer in (True, np.bool_(False), arrays["rsi"] < 30):
        strategy.answer = answer
        assert strategy.evaluate(arrays).entry_long.tolist() in ([True, True], [False, False], [True, False])
    strategy.answer = scalars["rsi"] < 30
    assert strategy.signal(scalars) == "long"
