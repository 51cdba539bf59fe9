"""``cryptoflow demo``: the main job on its local default."""

from __future__ import annotations

import time

import typer

from cryptoflow.cli._common import console, err_console, settings
from cryptoflow.stack import LocalStack
from cryptoflow.stack._smoke import round_trip


def demo(
    duration: float = typer.Option(0.0, "--duration", help="Seconds to run; 0 runs one pass and exits."),
) -> None:
    """Start the local Kafka + Elasticsearch and run events through them (grows into the full demo)."""
    config = settings()
    status = LocalStack(config.stack).up(
        on_progress=lambda message: err_console.print(f"[dim]stack:[/] {message}")
    )
    console.print(
        f"Kafka at {status['kafka']['bootstrap']}, Elasticsearch {status['elasticsearch']['version']} "
        f"at {status['elasticsearch']['url']}",
        highlight=False,
    )
    deadline = time.monotonic() + duration
    passes = 0
    while True:
        summary = round_trip(config)
        passes += 1
        if time.monotonic() >= deadline:
            break
    console.print(
        f"summary: passes={passes} produced={summary['produced']} consumed={summary['consumed']} "
        f"indexed={summary['indexed']} searchable={summary['searchable']} in {summary['seconds']} s "
        f"(topic {summary['topic']}, index {summary['index']}); stop the stack with `cryptoflow stack down`",
        highlight=False,
    )
