"""Budgets and position sizes: the budgets never add up to more than the capital, a position never
uses more than its budget × fraction × leverage, and exchange filters round down."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoflow.binance import SymbolFilters
from cryptoflow.errors import ExchangeRejection
from cryptoflow.portfolio import Bot, budgets, position_size, strategy_capital

ETH = SymbolFilters("ETHUSDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal("20"))

SYMBOLS = ["ETHUSDT", "BTCUSDT", "SOLUSDT", "XRPUSDT"]


@st.composite
def bots(draw: st.DrawFn) -> Bot:
    """A bot with 1-4 strategies whose fractions (all or none given) and per-symbol shares add up to at
    most 1 (validated as load_bot validates them)."""
    count = draw(st.integers(1, 4))
    symbols = SYMBOLS[: draw(st.integers(1, len(SYMBOLS)))]
    weights = draw(st.lists(st.floats(0.01, 1.0), min_size=count, max_size=count))
    scale = draw(st.floats(0.05, 1.0))
    given_fractions = draw(st.booleans())
    strategies = []
    for index, weight in enumerate(weights):
        entry: dict[str, object] = {"strategy": "basic", "run_id": f"r{index}"}
        if given_fractions:
            entry["fraction"] = weight / sum(weights) * scale
        if draw(st.booleans()):
            shares = draw(st.lists(st.floats(0.01, 1.0), min_size=len(symbols), max_size=len(symbols)))
            entry["symbols"] = {s: share / sum(shares) for s, share in zip(symbols, shares, strict=True)}
        strategies.append(entry)
    total = draw(st.floats(1.0, 1e7))
    capital = {"total": total}
    return Bot.model_validate(
        {"name": "b", "interval": "5m", "symbols": symbols, "capital": capital, "strategies": strategies}
    )


@settings(max_examples=200, deadline=None)
@given(bots())
def test_the_budgets_add_up_to_at_most_the_capital(bot: Bot) -> None:
    split = budgets(bot)
    assert all(value >= 0 for value in split.values())
    assert sum(split.values()) <= bot.capital.total * (1 + 1e-9)
    for followed in bot.strategies:
        mine = sum(v for (run_id, _), v in split.items() if run_id == followed.run_id)
        assert mine <= strategy_capital(bot, followed.run_id) * (1 + 1e-9)


@settings(max_examples=300, deadline=None)
@given(
    budget=st.floats(0.01, 1e7),
    price=st.floats(0.01, 1e6),
    fraction=st.floats(0.01, 1.0),
    leverage=st.integers(1, 125),
)
def test_a_position_never_exceeds_its_budget_times_leverage(
    budget: float, price: float, fraction: float, leverage: int
) -> None:
    cap = budget * fraction * leverage
    quantity = position_size(budget, price, fraction=fraction, leverage=leverage)
    assert 0 <= quantity * price <= cap * (1 + 1e-12)
    try:
        rounded = position_size(budget, price, fraction=fraction, leverage=leverage, filters=ETH)
    except ExchangeRejection as exc:
        assert "raise the budget, fraction or leverage" in str(exc)
        return
    assert rounded * price <= cap
    assert Decimal(repr(rounded)) % ETH.step_size == 0
    # at most one step below; the floats' error grows with the notional, not with the step
    assert cap - rounded * price < float(ETH.step_size) * price + cap * 1e-12


def test_a_position_size_rounded_by_the_exchange_filters() -> None:
    assert position_size(1000.0, 2500.0, fraction=0.5, leverage=2) == pytest.approx(0.4)
    assert position_size(1000.0, 2999.99, leverage=3, filters=ETH) == 1.0  # 1.000003 rounded down
    with pytest.raises(ExchangeRejection, match="notional 15.0000 is below the minimum 20"):
        position_size(15.0, 3000.0, filters=ETH)
    assert position_size(0.0, 3000.0) == 0.0
