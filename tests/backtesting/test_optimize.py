"""The optimiser's library: search spaces, losses, samplers, studies shared and resumed (bundled candles)."""

from __future__ import annotations

import math

import optuna
import pandas as pd
import pytest

from backtesting import LOSSES, OptimizeSettings, StudySettings, optimize
from backtesting._losses import loss
from backtesting._space import build_space, grid_size, parse_space_text
from cryptoflow.candles import load_candles, sample_path
from cryptoflow.errors import ConfigurationError
from cryptoflow.strategies import CustomStrategy, EnsembleStrategy, Range


@pytest.fixture(scope="module")
def candles():
    return load_candles(sample_path("1h"), on_gap="fill")


def test_ranges_become_int_float_log_and_categorical_dimensions() -> None:
    space = build_space(
        CustomStrategy,
        {
            "rsi_period": Range(7, 28),
            "rsi_oversold": "15..40:5",
            "take_profit_pct": "0.5..20:log",
            "stop_loss_pct": ["1", "1.5", "2", "1.5"],
        },
    )
    assert (space["rsi_period"].kind, space["rsi_period"].grid()) == ("int", tuple(range(7, 29)))
    assert space["rsi_oversold"].kind == "float" and space["rsi_oversold"].grid() == (15, 20, 25, 30, 35, 40)
    assert space["take_profit_pct"].log and space["take_profit_pct"].grid() is None
    assert space["stop_loss_pct"].values == (1.0, 1.5, 2.0)  # coerced to the parameter's type, deduplicated
    assert grid_size(space) is None
    del space["take_profit_pct"]
    assert grid_size(space) == 22 * 6 * 3
    assert parse_space_text("1,2, 3") == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"nosuch": [1, 2]}, "nosuch: strategy 'custom' has no such parameter; its parameters: "),
        ({"rsi_period": "28..7"}, "min 28 is above max 7; write 7..28"),
        ({"rsi_period": "7.5..28"}, "an integer parameter needs whole-number ends and step"),
        ({"stop_loss_pct": [1, 200]}, "stop_loss_pct=200: custom: stop_loss_pct must be in (0, 100)"),
        ({"take_profit_pct": "0..5:log"}, "a log range must start above 0"),
        ({"rsi_oversold": "a..b"}, "is not a range; write low..high"),
    ],
)
def test_a_wrong_space_names_the_parameter_and_the_fix(space: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=None) as caught:
        build_space(CustomStrategy, space)
    assert message in str(caught.value)


def test_losses_read_the_statistics_in_their_direction() -> None:
    stats = {"total_return_pct": 12.0, "max_drawdown_pct": -5.0, "win_rate_pct": 60.0, "n_trades": 8}
    assert LOSSES["profit_drawdown"].score(stats, 20, 1.0) == 7.0
    assert math.isnan(LOSSES["win_rate"].score(stats, 20, 1.0))  # 8 trades < min_trades 20
    assert LOSSES["win_rate"].score(stats, 5, 1.0) == 60.0
    assert loss("fees_paid").direction == "minimize" and loss("total_return_pct").direction == "maximize"
    with pytest.raises(ConfigurationError, match="nope: unknown loss; choose one of sharpe, sortino"):
        loss("nope")


def test_grid_runs_every_combination_ranked_best_first(candles) -> None:
    settings = OptimizeSettings(
        space={"threshold": [1, 2, 3], "weight_engulfing": [0, 1]}, losses=("total_return_pct",)
    )
    result = optimize(candles, "ensemble", settings)
    assert len(result.table) == 6
    assert sorted(
        map(tuple, result.table[["param_threshold", "param_weight_engulfing"]].values.tolist())
    ) == [(t, w) for t in (1.0, 2.0, 3.0) for w in (0.0, 1.0)]
    train = result.table["train_total_return_pct"].tolist()
    assert train == sorted(train, reverse=True)
    assert result.train_period[1] < result.test_period[0]
    assert {"test_total_return_pct", "test_n_trades", "train_max_drawdown_pct"} <= set(result.table.columns)


def test_random_draws_distinct_combinations_of_a_finite_space(candles) -> None:
    settings = OptimizeSettings(sampler="random", trials=5, seed=3)
    result = optimize(candles, "ensemble", settings)
    params = result.table[[c for c in result.table.columns if c.startswith("param_")]]
    assert len(result.table) == 5 and not params.duplicated().any()


def test_several_losses_give_the_pareto_front_first(candles) -> None:
    settings = OptimizeSettings(
        sampler="nsga2",
        trials=16,
        losses=("sharpe", "max_drawdown"),
        space={"rsi_oversold": "15..45", "rsi_overbought": "55..85", "take_profit_pct": "1..8"},
    )
    result = optimize(candles, "custom", settings)
    assert len(result.table) == 16
    front = result.table[result.table["pareto"]]
    assert not front.empty and result.table["pareto"].tolist() == sorted(result.table["pareto"], reverse=True)
    # no trial of the front is beaten in both losses by another complete trial
    rows = result.table.dropna(subset=["train_sharpe"])
    for _, a in front.dropna(subset=["train_sharpe"]).iterrows():
        beaten = (rows["train_sharpe"] > a["train_sharpe"]) & (
            rows["train_max_drawdown"] > a["train_max_drawdown"]
        )
        assert not beaten.any()


def test_a_study_in_storage_resumes_and_refuses_another_space(tmp_path, candles) -> None:
    where = StudySettings(storage=f"journal:{tmp_path / 'study.log'}", name="eth")
    space = {"rsi_oversold": "15..45", "rsi_overbought": "55..85"}
    optimize(candles, "custom", OptimizeSettings(sampler="tpe", trials=4, space=space), study=where)
    result = optimize(candles, "custom", OptimizeSettings(sampler="tpe", trials=7, space=space), study=where)
    assert len(result.table) == 7 and sorted(result.table["trial"]) == list(range(7))
    other = {"rsi_oversold": "15..40", "rsi_overbought": "55..85"}
    with pytest.raises(ConfigurationError) as caught:
        optimize(candles, "custom", OptimizeSettings(sampler="tpe", trials=7, space=other), study=where)
    assert str(caught.value).startswith("--study eth: this study holds a search with another setup (space: ")
    assert "rsi_oversold=15..45 rsi_overbought=55..85 there" in str(caught.value)


@pytest.mark.parametrize("storage", ["journal:{}/s.log", "sqlite:///{}/s.db"])
def test_forked_workers_together_run_exactly_the_trials(tmp_path, candles, storage) -> None:
    url = storage.format(tmp_path)
    space = {"rsi_oversold": "15..45", "rsi_overbought": "55..85", "rsi_period": "7..28"}
    seen = []
    result = optimize(
        candles,
        "custom",
        OptimizeSettings(sampler="tpe", trials=11, space=space),
        study=StudySettings(storage=url, name="forked", jobs=2),
        progress=seen.append,
    )
    assert len(result.table) == 11
    study = optuna.load_study(study_name="forked", storage=url if url.startswith("sqlite") else _journal(url))
    states = [t.state for t in study.get_trials()]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 11
    assert optuna.trial.TrialState.RUNNING not in states
    assert seen[-1].done == 11 and seen[-1].total == 11 and seen[-1].best.startswith("best sharpe")


def _journal(url: str) -> optuna.storages.BaseStorage:
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(url.removeprefix("journal:")))


def test_too_few_candles_and_unknown_names_are_configuration_errors(candles) -> None:
    with pytest.raises(ConfigurationError, match=r"--start/--end: 72 candles in the period, too few"):
        optimize(candles, "custom", start="2023-02-01", end="2023-02-03")
    with pytest.raises(ConfigurationError, match="--loss nope: unknown loss"):
        optimize(candles, "custom", OptimizeSettings(losses=("nope",)))
    with pytest.raises(ConfigurationError, match="unknown sampler 'cmaes'"):
        optimize(candles, "custom", OptimizeSettings(sampler="cmaes"))
    with pytest.raises(ConfigurationError, match="--sampler grid needs a finite space"):
        optimize(candles, "custom", OptimizeSettings(space={"rsi_oversold": "10..40"}))
    assert EnsembleStrategy.search_space  # the built-ins keep their lists (grid as before)


@pytest.mark.parametrize("mode", ["anchored", "rolling"])
def test_walk_forward_tests_each_winner_on_the_next_window_and_stitches_them(candles, mode) -> None:
    from backtesting import walk_forward
    from backtesting._walkforward import _windows

    windows = _windows(1000, 4, mode, 0.7)  # the first train window: two test windows
    assert [w[1:] for w in windows] == [(332, 498), (498, 664), (664, 830), (830, 1000)]
    assert [w[0] for w in windows] == ([0] * 4 if mode == "anchored" else [0, 166, 332, 498])
    settings = OptimizeSettings(
        sampler="tpe", trials=6, space={"rsi_oversold": "15..45", "rsi_overbought": "55..85"}
    )
    result = walk_forward(candles, "custom", settings, mode=mode, folds=3)
    assert result.folds["fold"].tolist() == [1, 2, 3] and len(result.searches) == 3
    assert (result.folds["test_start"] > result.folds["train_start"]).all()
    assert result.folds["test_start"].tolist() == sorted(result.folds["test_start"])
    # the stitched trades are the winners' out-of-sample trades, fold after fold
    assert result.stitched["n_trades"] == result.folds["test_n_trades"].sum()
    assert result.stitched["start"] == pd.Timestamp(result.folds["test_start"].iloc[0]).isoformat()
    assert math.isnan(result.efficiency) or math.isfinite(result.efficiency)


def test_walk_forward_needs_enough_candles_per_window(candles) -> None:
    from backtesting import walk_forward

    with pytest.raises(
        ConfigurationError,
        match=r"--folds 60: 2136 candles make windows of 34 candles, fewer than 50; use fewer --folds",
    ):
        walk_forward(candles, "custom", folds=60)
