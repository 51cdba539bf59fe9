"""The portfolio report in a real headless Chromium: every chart draws without console errors, each price
chart holds one symbol (its candles, and trades and skipped entries at that symbol's prices), and a
screenshot is saved (artifacts/portfolio_report.png)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backtesting import run_portfolio_backtest, write_portfolio_report
from cryptoflow.candles import load_candles
from cryptoflow.portfolio import load_bot
from cryptoflow.testing.browser import headless_chromium
from tests.backtesting._bots import BOT, SYMBOLS

pytestmark = pytest.mark.slow  # a browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        with headless_chromium(window_size=(1400, 4200)) as driver:
            yield driver
    except RuntimeError as exc:
        pytest.fail(str(exc))


def test_the_report_draws_one_symbol_per_price_chart(shared_data: Path, tmp_path: Path, browser: Any) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    path = tmp_path / "bot.toml"
    path.write_text(BOT.replace('broker = "paper"', 'broker = "testnet"'))
    frames = {s: load_candles(shared_data / f"{s}_5m_2025-08.csv") for s in SYMBOLS}
    result = run_portfolio_backtest(load_bot(path), frames, start="2025-08-25", end="2025-09-01")
    assert len(result.trades) > 10
    report = write_portfolio_report(result, tmp_path / "report.html")
    browser.get(report.as_uri())
    WebDriverWait(browser, 60).until(
        lambda d: d.execute_script("return document.querySelectorAll('.js-plotly-plot .main-svg').length") > 0
    )
    plots = browser.execute_script(
        "return Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => p._fullData.map(t => ({"
        "type: t.type, name: t.name, y: Array.from(t.y || []).filter(v => v !== null),"
        "low: Array.from(t.low || []), high: Array.from(t.high || [])})))"
    )
    assert len(plots) == 2 + len(SYMBOLS)  # equity and drawdown, PnL by strategy and symbol, one per symbol
    assert [t["name"] for t in plots[0]] == ["equity", "drawdown %"]
    assert len(plots[1]) == 2 and all(t["type"] == "bar" for t in plots[1])
    traded = 0
    for symbol, traces in zip(SYMBOLS, plots[2:], strict=True):
        candles = [t for t in traces if t["type"] == "candlestick"]
        assert len(candles) == 1, symbol
        low, high = min(candles[0]["low"]), max(candles[0]["high"])
        for trace in traces:
            if trace["type"] == "scatter" and trace["y"]:
                traded += 1
                # entries and exits fill at a close or a trigger price of this symbol's candles
                assert low * 0.999 <= min(trace["y"]) and max(trace["y"]) <= high * 1.001, (
                    symbol,
                    trace["name"],
                )
    assert traded >= len(SYMBOLS)
    text = browser.execute_script("return document.body.innerText")
    assert "Skipped signals" in text and "held_by_other" in text and "By strategy" in text
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "portfolio_report.png"))
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], f"console errors: {errors}"
