"""``cryptoflow sink`` (Kafka -> Elasticsearch) and ``cryptoflow replay`` (a backtest into Kafka)."""

from __future__ import annotations

import signal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from cryptoflow.cli._backtest import _progress, backtest_options, check_inputs
from cryptoflow.cli._common import console, parse_options, settings, stop_requests, stopped_by
from cryptoflow.errors import ConfigurationError

if TYPE_CHECKING:
    from backtesting import BacktestRequest
    from backtesting_trade import ReplayProgress

__all__ = ["replay", "sink"]


class OnMalformed(StrEnum):
    """What the sink does with a message it cannot index."""

    dlq = "dlq"
    fail = "fail"


class ReplaySource(StrEnum):
    """The ``source`` of replayed events."""

    backtest = "backtest"
    replay = "replay"


def sink(
    group: Annotated[
        str | None, typer.Option("--group", help="Consumer group (default <topic prefix>-sink).")
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="Topic kind to read: candles, indicators, signals, trades (repeatable)."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Documents per bulk request at most.")
    ] = 5000,
    batch_max_bytes: Annotated[
        int, typer.Option("--batch-max-bytes", help="Bytes per bulk request at most (default 16 MiB).")
    ] = 16 << 20,
    batch_wait_ms: Annotated[
        int, typer.Option("--batch-wait-ms", help="Write a batch at the latest this long after it opened.")
    ] = 250,
    max_in_flight: Annotated[
        int,
        typer.Option(
            "--max-in-flight", help="Bulk requests running at once (offsets still commit in order)."
        ),
    ] = 2,
    on_malformed: Annotated[
        OnMalformed,
        typer.Option("--on-malformed", help="dlq: send bad messages to <prefix>.dlq and go on; fail: stop."),
    ] = OnMalformed.dlq,
    once: Annotated[bool, typer.Option("--once", help="Drain what is in the topics, then exit.")] = False,
    log_interval: Annotated[
        float, typer.Option("--log-interval", help="Seconds between progress log lines.")
    ] = 10.0,
    health_port: Annotated[
        int | None, typer.Option("--health-port", help="Serve GET /health on this port (503 when stalled).")
    ] = None,
    stall_timeout: Annotated[
        float,
        typer.Option("--stall-timeout", help="Unhealthy after this many seconds with lag and no writes."),
    ] = 60.0,
    max_backoff: Annotated[
        float,
        typer.Option("--max-backoff", help="Longest wait between retries while Elasticsearch is down (s)."),
    ] = 30.0,
    give_up_after: Annotated[
        float | None,
        typer.Option(
            "--give-up-after",
            help="Exit 1 when Elasticsearch or Kafka stay unreachable this long (s; default 60 with "
            "--once, never without; 0: never).",
        ),
    ] = None,
) -> None:
    """Index every event from Kafka into Elasticsearch (at-least-once, idempotent by event id).

    Offsets are committed only after Elasticsearch acknowledged the batch; invalid messages and rejected
    documents go to <prefix>.dlq with their reason. SIGTERM finishes the batch and exits with 0, SIGINT
    (Ctrl-C) the same with 130; a second signal aborts at once.
    """
    from cryptoflow.sink import Sink, SinkOptions

    if give_up_after is None:
        give_up_after = 60.0 if once else 0.0
    if give_up_after < 0:
        raise ConfigurationError(f"--give-up-after expects seconds >= 0 (0: never), got {give_up_after:g}")
    options = parse_options(
        SinkOptions,
        "sink",
        group_id=group,
        kinds=tuple(kind) if kind else SinkOptions.model_fields["kinds"].default,
        batch_size=batch_size,
        batch_max_bytes=batch_max_bytes,
        batch_wait_ms=batch_wait_ms,
        max_in_flight=max_in_flight,
        on_malformed=on_malformed.value,
        once=once,
        log_interval_s=log_interval,
        health_port=health_port,
        stall_timeout_s=stall_timeout,
        backoff_max_s=max_backoff,
        give_up_after_s=give_up_after or None,
    )
    runner = Sink(settings(), options)
    with stop_requests(runner.stop, "stopping: writing the current batch and committing (again to abort)"):
        stats = runner.run()
    console.print(
        f"indexed {stats.indexed:,} document(s), dead-lettered {stats.dead_lettered:,} "
        f"to {runner.dlq_topic}, {stats.batches:,} batch(es), {stats.retries:,} retr"
        f"{'y' if stats.retries == 1 else 'ies'} in {stats.elapsed_s:.1f} s",
        highlight=False,
    )
    if stopped_by() == signal.SIGINT:
        raise typer.Exit(130)  # Ctrl-C: stopped cleanly, but the work was interrupted


@backtest_options()
def replay(
    request: BacktestRequest,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="Run id of the events (default: derived from the backtest's inputs)."),
    ] = None,
    source: Annotated[
        ReplaySource, typer.Option("--source", help="The events' source field.")
    ] = ReplaySource.backtest,
    rate: Annotated[
        float | None, typer.Option("--rate", help="Events per second at most (default: as fast as possible).")
    ] = None,
) -> None:
    """Run a backtest and publish its candles (with indicators) and trades to Kafka.

    Takes the same data and strategy options as `cryptoflow backtest`. Replaying the same run again
    leaves the same documents in Elasticsearch (deterministic run and event ids). Index them with
    `cryptoflow sink`.
    """
    from backtesting import run_backtest
    from backtesting_trade import replay as run_replay
    from cryptoflow.kafka import EventProducer

    if rate is not None and rate <= 0:
        raise ConfigurationError(f"--rate must be a positive number of events per second, got {rate}")
    current = settings()
    instance = request.load_strategy()
    check_inputs(request)
    with _progress() as progress:
        task = progress.add_task("loading candles", total=None)
        frames = request.load_candles()
        progress.update(task, description="backtesting")
        result = run_backtest(
            frames, instance, request.config(), start=request.start, end=request.end, preset=request.preset
        )
        progress.update(task, description="publishing", completed=0)

        def advance(state: ReplayProgress) -> None:
            progress.update(
                task,
                completed=state.acknowledged,
                total=state.total,
                description=f"built {state.built:,} · produced {state.produced:,} · acknowledged",
            )

        try:
            with EventProducer(current.kafka) as producer:
                published = run_replay(
                    result,
                    producer,
                    run_id=run_id,
                    interval=request.interval,
                    source=source.value,
                    rate=rate,
                    progress=advance,
                )
        except ValidationError as exc:  # e.g. a --run-id with spaces, a lowercase --symbol
            error = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in error["loc"])
            raise ConfigurationError(
                f"cannot build the events: {where}: {error['msg']} (got {error.get('input')!r}); "
                "run ids are one word, symbols upper case like ETHUSDT"
            ) from None
    table = Table("topic", "events", title=f"run {published.run_id}", title_justify="left")
    for topic, count in sorted(published.topics.items()):
        table.add_row(topic, f"{count:,}")
    console.print(table)
    console.print(
        f"published {published.total:,} event(s) ({len(result.trades):,} closed trade(s)) in "
        f"{published.elapsed_s:.1f} s ({published.events_per_s:,.0f} events/s); "
        "index them with `cryptoflow sink`",
        highlight=False,
    )
