"""`cryptoflow dashboard serve` in a real headless Chromium, reading events this test indexed into the real
local Elasticsearch: the page loads without console errors, every chart and table shows that data, the
filters narrow it, no Elasticsearch address or credential reaches the browser, and a screenshot is saved
(artifacts/dashboard.png)."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import helpers

from cryptoflow.config import Settings
from cryptoflow.dashboard import DashboardServer
from cryptoflow.elastic import IndexRouter, install_templates, make_client
from cryptoflow.events import (
    CandleEvent,
    CandlePayload,
    IndicatorEvent,
    IndicatorPayload,
    IndicatorValues,
    TradeEvent,
    TradePayload,
)
from cryptoflow.testing.browser import headless_chromium

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHARTS = [
    "chart-price",
    "chart-rsi",
    "chart-macd",
    "chart-cci",
    "chart-pnl",
    "chart-winrate",
    "chart-pnl-dist",
    "chart-rt-price",
    "chart-rt-rsi",
]
START_MS, HOUR_MS = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000, 3_600_000
N_CANDLES = 96


def _events() -> list[Any]:
    events: list[Any] = []
    price = 2000.0
    for i in range(N_CANDLES):
        open_price, price = price, price * (1 + 0.004 * ((i * 7919) % 11 - 5) / 5)
        values = IndicatorValues(
            rsi=50 + 25 * ((i % 24) - 12) / 12,
            macd=(i % 20) - 10.0,
            macd_signal=(i % 20) - 9.0,
            macd_hist=-1.0 + (i % 3),
            cci=150 * ((i % 16) - 8) / 8,
            engulfing=1.0 if i % 17 == 5 else (-1.0 if i % 19 == 7 else 0.0),
            is_bull=float(price > open_price),
        )
        candle = CandlePayload(
            close_time_ms=START_MS + (i + 1) * HOUR_MS - 1,
            open=open_price,
            high=max(open_price, price) * 1.002,
            low=min(open_price, price) * 0.998,
            close=price,
            volume=100.0 + i % 13,
            indicators=values,
        )
        events.append(
            CandleEvent.create(
                source="backtest",
                run_id="page-test",
                symbol="ETHUSDT",
                interval="1h",
                open_time_ms=START_MS + i * HOUR_MS,
                candle=candle,
            )
        )
    backtest: dict[str, Any] = {
        "source": "backtest",
        "run_id": "page-test",
        "strategy": "custom",
        "symbol": "ETHUSDT",
        "interval": "1h",
    }
    for n, (side, pnl) in enumerate(
        [("long", 12.5), ("short", -4.0), ("long", 7.25), ("short", 3.0), ("long", -2.5), ("long", 9.0)]
    ):
        entry_ms, exit_ms = START_MS + (10 * n + 2) * HOUR_MS, START_MS + (10 * n + 7) * HOUR_MS
        common = {"side": side, "quantity": 0.5, "entry_time_ms": entry_ms, "entry_price": 2000.0 + n}
        events.append(
            TradeEvent.create(
                **backtest,
                trade=TradePayload(leg="open", price=2000.0 + n, fees=0.4, **common),
            )
        )
        events.append(
            TradeEvent.create(
                **backtest,
                trade=TradePayload(
                    leg="close",
                    price=2010.0,
                    fees=0.8,
                    exit_time_ms=exit_ms,
                    exit_price=2010.0,
                    exit_reason="signal",
                    pnl=pnl,
                    pnl_pct=pnl / 10,
                    **common,
                ),
            )
        )
    still_open = {
        "side": "short",
        "quantity": 0.25,
        "entry_time_ms": START_MS + 90 * HOUR_MS,
        "entry_price": 2050.0,
    }
    events.append(
        TradeEvent.create(
            **backtest,
            trade=TradePayload(leg="open", price=2050.0, fees=0.2, **still_open),
        )
    )
    for symbol, base in (("ETHUSDT", 2000.0), ("BTCUSDT", 60000.0)):
        for k in range(40):
            update_ms = START_MS + N_CANDLES * HOUR_MS + k * 3000
            events.append(
                IndicatorEvent.create(
                    source="paper",
                    run_id="page-test-live",
                    symbol=symbol,
                    interval="1m",
                    update_time_ms=update_ms,
                    indicator=IndicatorPayload(
                        open_time_ms=update_ms - update_ms % 60_000,
                        close=base + k,
                        values=IndicatorValues(rsi=40 + k / 2, macd=0.1 * k, cci=k - 20.0),
                    ),
                )
            )
    return events


@pytest.fixture(scope="module")
def indexed(local_stack: Any, new_name: Callable[[str], str]) -> Iterator[Settings]:
    """Events indexed through the sink's index templates under a prefix of their own; removed afterwards."""
    prefix = new_name("test-page")
    settings = Settings(elasticsearch={"index_prefix": prefix})
    client = make_client(settings.elasticsearch)
    aliases = install_templates(client, settings.elasticsearch)
    router = IndexRouter(settings)
    actions = [
        {
            "_index": router.index_of(event),
            "_id": event.event_id,
            "_source": event.model_dump(mode="json", by_alias=True),
        }
        for event in _events()
    ]
    helpers.bulk(client, actions, refresh="wait_for")
    yield settings
    indices = list(client.indices.get(index=f"{prefix}-*", expand_wildcards="all"))  # every partition
    if indices:
        client.indices.delete(index=",".join(indices), ignore_unavailable=True)
    for alias in aliases.values():
        client.options(ignore_status=404).indices.delete_index_template(name=alias)
    client.close()


@pytest.fixture(scope="module")
def server(indexed: Settings) -> Iterator[DashboardServer]:
    dashboard = DashboardServer(indexed.elasticsearch, port=0, refresh_s=2.0)
    thread = threading.Thread(target=dashboard.serve_forever, daemon=True)
    thread.start()
    yield dashboard
    dashboard.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        with headless_chromium(window_size=(1280, 2600), flags=("--disable-quic",)) as driver:
            yield driver
    except RuntimeError as exc:
        pytest.fail(str(exc))


def _wait_for_refreshes(driver: Any, count: int) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 60).until(
        lambda d: int(d.execute_script("return document.body.dataset.refreshes || 0")) >= count
    )


def _points(driver: Any) -> dict[str, int]:
    return driver.execute_script(
        """const out = {};
        for (const id of arguments[0]) {
          const el = document.getElementById(id);
          out[id] = (el.data || []).reduce((n, t) => n + ((t.x || []).length), 0);
        }
        return out;""",
        CHARTS,
    )


def test_page_shows_the_indexed_data_without_console_errors(server: DashboardServer, browser: Any) -> None:
    browser.get(server.url)
    _wait_for_refreshes(browser, 2)  # the first refresh and one auto-refresh
    points = _points(browser)
    assert all(points[chart] > 0 for chart in CHARTS), f"charts without data: {points}"
    assert points["chart-price"] >= N_CANDLES  # every candle, plus volume and engulfing markers
    assert points["chart-pnl-dist"] == 6 and points["chart-rt-price"] == 80
    text = browser.find_element("tag name", "body").text
    assert "ETHUSDT" in text and "BTCUSDT" in text and "custom" in text and "signal" in text
    open_rows = browser.execute_script("return document.querySelectorAll('#table-open tr').length")
    assert open_rows == 2  # header + the one position still open
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], f"console errors: {errors}"


def test_filters_narrow_every_view(server: DashboardServer, browser: Any) -> None:
    from selenium.webdriver.support.ui import Select

    browser.get(server.url)
    _wait_for_refreshes(browser, 1)
    before = int(browser.execute_script("return document.body.dataset.refreshes"))
    Select(browser.find_element("name", "symbol")).select_by_visible_text("BTCUSDT")
    _wait_for_refreshes(browser, before + 1)
    points = _points(browser)
    assert points["chart-rt-price"] == 40 and points["chart-price"] == 0 and points["chart-pnl-dist"] == 0
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_no_elasticsearch_address_or_credentials_reach_the_browser(server: DashboardServer) -> None:
    secrets = [server.settings.hosts, "127.0.0.1:9200", server.settings.index_prefix]
    for path in (
        "",
        "api/config",
        "api/filters",
        "api/market",
        "api/trading",
        "api/realtime",
        "static/app.js",
    ):
        with urllib.request.urlopen(server.url + path, timeout=30) as response:
            body = response.read().decode()
        assert not any(secret in body for secret in secrets), path
    with urllib.request.urlopen(server.url + "api/filters", timeout=30) as response:
        options = json.load(response)
    assert options["symbol"] == ["BTCUSDT", "ETHUSDT"] and options["source"] == ["backtest", "paper"]
