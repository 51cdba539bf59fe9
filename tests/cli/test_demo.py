"""`cryptoflow demo --duration N` on the real local stack: ends by itself, last line is the summary."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cryptoflow.elastic import make_client
from cryptoflow.testing.services import clean_env, free_port

pytestmark = pytest.mark.integration


def test_demo_indexes_the_multi_symbol_run_and_ends_with_the_summary(
    local_stack, stack_settings, unique_name, tmp_path: Path
) -> None:
    env = clean_env(
        CRYPTOFLOW_KAFKA__TOPIC_PREFIX=unique_name,
        CRYPTOFLOW_ELASTICSEARCH__INDEX_PREFIX=unique_name,
        COLUMNS="300",
    )
    port, exchange_port = free_port(), free_port()
    command = [
        "demo",
        "--duration",
        "20",
        "--speed",
        "50",
        "--port",
        str(port),
        "--exchange-port",
        str(exchange_port),
        "--out",
        str(tmp_path),
    ]
    result = subprocess.run(
        [sys.executable, "-m", "cryptoflow", *command], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    live = re.match(
        r"summary: live \(paper\) run demo-live: candles (\d+), indicator updates (\d+), signals (\d+), "
        r"closed trades (\d+), PnL (-?[\d.]+) USDT; ",
        last,
    )
    assert live, last
    live_candles, indicator_updates = int(live.group(1)), int(live.group(2))
    assert live_candles > 0 and indicator_updates > live_candles  # several intrabar updates per candle
    backtest = re.search(
        r"; backtest (\S+) of the same candles: (\d+) trades, total return -?[\d.]+ %, "
        r"candles (\d+)/(\d+) and trade events (\d+)/(\d+) indexed",
        last,
    )
    assert backtest, last
    run_id, trades, candles, expected_candles, trade_events, expected_trades = backtest.groups()
    assert candles == expected_candles == str(3 * 4032 + 2016)  # BTC+SOL 2 weeks, ETH 3 weeks of 5m
    assert trade_events == expected_trades
    assert int(trade_events) in (2 * int(trades), 2 * int(trades) + 1)  # open and close legs (+ an open one)
    assert (tmp_path / "backtest.html").stat().st_size > 100_000
    client = make_client(stack_settings.elasticsearch)
    symbols = client.search(
        index=f"{unique_name}-candles",
        size=0,
        query={"term": {"run_id": run_id}},
        aggs={"symbols": {"terms": {"field": "symbol"}}},
    )["aggregations"]["symbols"]["buckets"]
    assert {bucket["key"]: bucket["doc_count"] for bucket in symbols} == {
        "ETHUSDT": 6048,
        "BTCUSDT": 4032,
        "SOLUSDT": 4032,
    }
    live_symbols = client.search(
        index=f"{unique_name}-candles",
        size=0,
        query={"term": {"run_id": "demo-live"}},
        aggs={"symbols": {"terms": {"field": "symbol"}}},
    )["aggregations"]["symbols"]["buckets"]
    assert {bucket["key"] for bucket in live_symbols} == {"ETHUSDT", "BTCUSDT", "SOLUSDT"}
    assert sum(bucket["doc_count"] for bucket in live_symbols) == live_candles
    created = list(client.indices.get(index=f"{unique_name}-*"))  # wildcard deletes are refused
    client.indices.delete(index=",".join(created))
