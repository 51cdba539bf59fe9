"""``cryptoflow exchange serve``, ``cryptoflow trade`` and ``cryptoflow indicators``: the live side."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cryptoflow.cli._common import console
from cryptoflow.cli._paths import input_file, output_dir
from cryptoflow.config import KafkaSettings, Market
from cryptoflow.errors import ConfigurationError

if TYPE_CHECKING:
    from cryptoflow.binance import BinanceEndpoints
    from cryptoflow.config import BinanceSettings
    from cryptoflow.events import Event

_TRADE_KINDS = ("candles", "signals", "trades")

exchange_app = typer.Typer(help="A local fake Binance exchange replaying real candles.", no_args_is_help=True)


def _speed(text: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigurationError(
            f"--speed expects candles per second (e.g. 2 or 0.5) or 'max', got {text!r}"
        ) from None
    if not value > 0:
        raise ConfigurationError(f"--speed must be > 0 or 'max', got {text!r}")
    return value


@exchange_app.command("serve")
def serve(
    data: str = typer.Option(..., "--data", help="Candle file(s), comma-separated, one interval."),
    port: int = typer.Option(9010, "--port", help="TCP port (0 = any free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    speed: str = typer.Option("1", "--speed", help="Candles per second, or 'max'."),
    history: int = typer.Option(
        300, "--history", help="Candles already in the past at start (REST warm-up)."
    ),
    updates: int = typer.Option(3, "--updates", help="Intrabar (x=false) kline updates per candle."),
    limit: int | None = typer.Option(None, "--limit", help="Replay at most this many candles."),
    fill: str = typer.Option("last", "--fill", help="MARKET fills at the 'last' price or the last 'close'."),
    volume_share: float = typer.Option(
        0.1,
        "--volume-share",
        help="A resting LIMIT order fills at most this share of the volume traded as the price passes it.",
    ),
    wait: bool = typer.Option(
        False, "--wait", help="Start the replay only on POST /_fake/start (default: at once)."
    ),
) -> None:
    """Serve Binance's REST and websocket protocol replaying candle files.

    USD-M futures, public: ping, time, exchangeInfo, klines and
    continuousKlines (the replayed interval and every longer one),
    ticker/24hr, ticker/price, premiumIndex, fundingRate.
    Signed: order (MARKET, LIMIT), algoOrder (STOP_MARKET,
    TAKE_PROFIT_MARKET, STOP, TAKE_PROFIT, TRAILING_STOP_MARKET, triggered
    by the replayed prices), openOrders, allOrders, allOpenOrders,
    openAlgoOrders, allAlgoOrders, algoOpenOrders, userTrades, leverage,
    marginType, leverageBracket, commissionRate, positionSide/dual
    (one-way mode only), account, balance, positionRisk; listenKey and
    the user data stream (ws/<listenKey>).

    Spot, public: ping, time, exchangeInfo, klines, ticker/24hr,
    ticker/price. Signed: account, order (MARKET, LIMIT), openOrders,
    myTrades. The /sapi margin pair lists answer [] (no margin).

    Websockets: kline and continuous-kline streams, raw and combined.

    Keys: CRYPTOFLOW_FAKE_API_KEY / CRYPTOFLOW_FAKE_API_SECRET (default fake-api-key / fake-api-secret).
    Faults: POST /_fake/drop, /_fake/silence?seconds=S, /_fake/reject?count=N&code=C, /_fake/restrict[?on=0]
    (HTTP 451, as Binance answers a restricted location); GET /_fake/state.
    """
    from cryptoflow.testing.fake_binance import FakeExchange, ReplayMarket

    if fill not in ("last", "close"):
        raise ConfigurationError(f"--fill expects 'last' or 'close', got {fill!r}")
    if not 0 < volume_share <= 1:
        raise ConfigurationError(f"--volume-share must be in (0, 1], got {volume_share}")
    paths = [Path(p.strip()) for p in data.split(",") if p.strip()]
    for path in paths:
        if path.is_dir():
            raise ConfigurationError(f"--data {path}: is a folder; give candle files, comma-separated")
        input_file(path, "--data")
    market = ReplayMarket.from_files(paths, history=history, updates_per_candle=updates, limit=limit)
    exchange = FakeExchange(
        market,
        speed=_speed(speed),
        host=host,
        port=port,
        api_key=os.environ.get("CRYPTOFLOW_FAKE_API_KEY", "fake-api-key"),
        api_secret=os.environ.get("CRYPTOFLOW_FAKE_API_SECRET", "fake-api-secret"),
        autostart=not wait,
        fill_at=fill,
    )
    exchange.desk.volume_share = volume_share

    async def run() -> None:
        await exchange.start()
        console.print(
            f"fake exchange on [bold]{exchange.base_url}[/] (streams {exchange.stream_url}): "
            f"{', '.join(market.symbols)} {market.interval}, {len(market.grid) - market.history} candles "
            f"to replay at {speed} candle(s)/s"
        )
        try:
            await asyncio.Event().wait()
        finally:
            await exchange.stop()

    asyncio.run(run())


def _symbols(text: str) -> list[str]:
    symbols = [s.strip().upper() for s in text.split(",") if s.strip()]
    if not symbols:
        raise ConfigurationError("--symbols expects e.g. ETHUSDT or ETHUSDT,BTCUSDT")
    return symbols


def _endpoints(binance: BinanceSettings, testnet: bool) -> BinanceEndpoints:
    from cryptoflow.binance import TESTNET_FUTURES, BinanceEndpoints

    configured = BinanceEndpoints.from_settings(binance)
    if configured.rest or configured.stream:
        return configured
    return TESTNET_FUTURES if testnet else configured


def _live_interval(interval: str) -> str:
    """``--interval`` of a live command: one Binance streams (anything else would never get a candle)."""
    from cryptoflow.candles import BINANCE_INTERVALS

    if interval not in BINANCE_INTERVALS:
        raise ConfigurationError(
            f"--interval {interval!r} is not a kline interval Binance streams; use one of "
            f"{', '.join(BINANCE_INTERVALS)}"
        )
    return interval


@contextlib.contextmanager
def _emitter(
    use_kafka: bool, kafka: KafkaSettings, kinds: tuple[str, ...]
) -> Iterator[tuple[Callable[[Event], None], Callable[[], object]]]:
    """``(emit, flush)``: where the events go (Kafka, or nowhere with ``--no-kafka``) and how to wait
    until they are acknowledged. With Kafka, its topics of ``kinds`` are made sure of first: Kafka not
    answering within ``CRYPTOFLOW_KAFKA__CONNECT_TIMEOUT_S`` (30 s) is an error before any trading starts.

    SIGTERM (``docker stop``) and Ctrl-C end the service cleanly: the run loop unwinds (the broker saves
    its state) and every queued event is delivered; the command then exits 0 (SIGTERM) or 130 (Ctrl-C).
    """
    producer = None
    started = False
    try:
        if not use_kafka:
            started = True
            yield (lambda event: None), (lambda: None)
            return
        from cryptoflow.kafka import EventProducer, ensure_topics, topic_name

        console.print(f"events go to Kafka at {kafka.bootstrap_servers}", highlight=False)
        ensure_topics(kafka, [topic_name(kafka, kind) for kind in kinds])
        with EventProducer(kafka) as producer:
            started = True
            # a decision is recorded only once its events are in Kafka: wait for as long as Kafka is away
            yield producer.send, lambda: producer.flush(None)
    except KeyboardInterrupt:
        undelivered = producer.pending() if producer is not None else 0
        if undelivered:
            console.print(f"stopped; {undelivered} event(s) were not delivered to Kafka")
        elif producer is not None:
            console.print("stopped; every event was delivered to Kafka")
        else:
            console.print("stopped")
        if not started:  # stopped while waiting for Kafka: the with block never ran (main sets the code)
            raise typer.Exit(0) from None


def trade(
    symbols: str = typer.Option("ETHUSDT", "--symbols", help="Symbols, comma-separated."),
    interval: str = typer.Option("5m", "--interval", help="Candle interval."),
    strategy: str = typer.Option("basic", "--strategy", "-s", help="Strategy name or file.py:Class."),
    param: list[str] | None = typer.Option(None, "--param", "-p", help="Strategy parameter name=value."),  # noqa: B008
    broker: str = typer.Option("paper", "--broker", help="paper, testnet or live."),
    live: bool = typer.Option(False, "--live", help="Required with --broker live: real money."),
    run_id: str = typer.Option("auto-trade", "--run-id", help="Names events, state and client order ids."),
    state_dir: Path = typer.Option(Path("state"), "--state-dir", help="Where state is kept."),  # noqa: B008
    cash: float = typer.Option(10_000.0, "--cash", help="Budget in quote currency, split by symbol."),
    fraction: float = typer.Option(1.0, "--fraction", help="Share of a symbol's budget per position."),
    leverage: int = typer.Option(1, "--leverage", help="Leverage set on the exchange before trading."),
    margin_type: str = typer.Option("ISOLATED", "--margin-type", help="ISOLATED or CROSSED."),
    kafka: bool = typer.Option(True, "--kafka/--no-kafka", help="Publish candle, signal and trade events."),
    from_kafka: bool = typer.Option(
        False,
        "--from-kafka",
        help="Read closed candles from the candles topic as one worker of a consumer group (start K).",
    ),
    candles_run_id: str = typer.Option(
        "realtime", "--candles-run-id", help="--from-kafka: trade the candles of this indicators run."
    ),
    group: str | None = typer.Option(
        None, "--group", help="--from-kafka: consumer group (default <prefix>.auto-trade.<run id>)."
    ),
    max_candle_age: float | None = typer.Option(
        None,
        "--max-candle-age",
        help="--from-kafka: do not trade candles closed longer ago (s; default two intervals; 0: no limit).",
    ),
) -> None:
    """Trade closed candles live: websocket klines -> strategy -> broker -> events on Kafka.

    With --from-kafka the candles come from the candles topic that `cryptoflow indicators` fills; start
    several such workers with the same --run-id and they share the symbols (a consumer group). They keep
    their state per symbol in --state-dir, which they must share (e.g. one volume).
    """
    from auto_trade import AutoTrade, AutoTradeOptions, CandleTopicWorker, WorkerOptions
    from cryptoflow.binance import BinanceFuturesBroker
    from cryptoflow.brokers import PaperBroker, TradingConfig
    from cryptoflow.candles import interval_ms
    from cryptoflow.cli._backtest import params
    from cryptoflow.cli._common import settings
    from cryptoflow.strategies import load_strategy

    if broker not in ("paper", "testnet", "live"):
        raise ConfigurationError(f"--broker expects paper, testnet or live, got {broker!r}")
    if broker == "live" and not live:
        raise ConfigurationError("--broker live trades real money: add --live to confirm")
    if live and broker != "live":
        raise ConfigurationError(
            f"--live confirms real-money trading with --broker live; it does not go with --broker {broker}: "
            "drop --live, or use --broker live"
        )
    _live_interval(interval)
    config = settings()
    output_dir(state_dir, "--state-dir")
    instance = load_strategy(strategy, **params(param))
    trading = TradingConfig(cash=cash, fraction=fraction, leverage=leverage, margin_type=margin_type.upper())
    endpoints = _endpoints(config.binance, broker == "testnet")
    universe = _symbols(symbols)

    def make_broker(trading: TradingConfig, stem: str) -> PaperBroker | BinanceFuturesBroker:
        """The broker keeping its state in ``<state dir>/<stem>.<broker>.json``."""
        if broker == "paper":
            return PaperBroker(trading, state_dir / f"{stem}.paper.json")
        key, secret = config.binance.api_key, config.binance.api_secret
        return BinanceFuturesBroker(
            trading,
            state_dir / f"{stem}.{broker}.json",
            mode=broker,
            endpoints=endpoints,
            api_key=key.get_secret_value() if key else None,
            api_secret=secret.get_secret_value() if secret else None,
        )

    console.print(f"trading {', '.join(universe)} {interval} with {instance.describe()} ({broker})")
    if not from_kafka:
        chosen = make_broker(trading, run_id)
        options = AutoTradeOptions(universe, interval, run_id, state_dir, market="futures")
        with _emitter(kafka, config.kafka, _TRADE_KINDS) as (emit, flush):
            runner = AutoTrade(options, instance, chosen, emit, flush=flush, endpoints=endpoints)
            asyncio.run(runner.run())
        return

    # one broker per symbol, with its share of the budget and its own state file
    share = dataclasses.replace(trading, cash=trading.cash / len(universe))
    make_broker(share, run_id)  # wrong keys fail now, not at the first candle
    age = 2 * interval_ms(interval) / 1000 if max_candle_age is None else (max_candle_age or None)
    worker_options = WorkerOptions(
        universe,
        interval,
        run_id,
        state_dir,
        candles_run_id=candles_run_id,
        group=group,
        max_candle_age_s=age,
    )
    with _emitter(kafka, config.kafka, _TRADE_KINDS) as (emit, flush):
        worker = CandleTopicWorker(
            worker_options,
            config.kafka,
            instance,
            lambda symbol: make_broker(share, f"{run_id}.{symbol}"),
            emit,
            flush=flush,
            endpoints=endpoints,
        )
        asyncio.run(worker.run())


def indicators(
    symbols: str = typer.Option("ETHUSDT", "--symbols", help="Symbols, comma-separated."),
    interval: str = typer.Option("1m", "--interval", help="Candle interval."),
    preset: str = typer.Option("ta", "--preset", help="Indicator preset: ta or seed."),
    run_id: str = typer.Option("realtime", "--run-id", help="Names the events."),
    market: str = typer.Option("futures", "--market", help="spot or futures."),
    kafka: bool = typer.Option(True, "--kafka/--no-kafka", help="Publish indicator and candle events."),
) -> None:
    """Stream intrabar indicators: every kline update -> indicator event, every close -> candle event."""
    from cryptoflow.cli._common import settings
    from realtime_indicator import RealtimeOptions, run_realtime

    if market != "spot" and market != "futures":
        raise ConfigurationError(f"--market expects spot or futures, got {market!r}")
    _live_interval(interval)
    config = settings()
    chosen: Market = "spot" if market == "spot" else "futures"
    options = RealtimeOptions(_symbols(symbols), interval, run_id, preset=preset, market=chosen)
    console.print(f"streaming indicators of {', '.join(options.symbols)} {interval}")
    with _emitter(kafka, config.kafka, ("indicators", "candles")) as (emit, _):
        asyncio.run(run_realtime(options, emit, endpoints=_endpoints(config.binance, False)))
