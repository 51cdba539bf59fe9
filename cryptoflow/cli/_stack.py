"""``cryptoflow stack``: the local single-node Kafka and Elasticsearch."""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from cryptoflow.cli._common import console, err_console, settings
from cryptoflow.stack import LocalStack

app = typer.Typer(
    help="Run the local Kafka + Elasticsearch stack (fetched once from Maven Central).", no_args_is_help=True
)


def _stack() -> LocalStack:
    return LocalStack(settings().stack)


def _say(message: str) -> None:
    err_console.print(f"[dim]stack:[/] {escape(message)}", highlight=False)


@app.command("up")
def up() -> None:
    """Fetch (once), start and wait for Kafka and Elasticsearch on 127.0.0.1. Running it twice is harmless."""
    status = _stack().up(on_progress=_say)
    kafka, elastic = status["kafka"], status["elasticsearch"]
    console.print(
        f"[green]up[/]: Kafka {kafka.get('version') or ''} at {kafka['bootstrap']}, "
        f"Elasticsearch {elastic.get('version')} at {elastic['url']} ({elastic.get('health')})",
        highlight=False,
    )


@app.command("status")
def status() -> None:
    """Print JSON: whether each service answers, where, its version and the managed pid."""
    result = _stack().status()
    console.print_json(json.dumps(result))
    if not all(service["up"] for service in result.values()):
        raise typer.Exit(1)


@app.command("down")
def down() -> None:
    """Stop exactly the processes `stack up` started (from their pid files)."""
    stopped = _stack().down(on_progress=_say)
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of the stack was running")


@app.command("logs")
def logs(
    service: str = typer.Argument("all", help="kafka, elasticsearch or all"),
    lines: int = typer.Option(50, "--lines", "-n", help="How many lines from the end of each log."),
) -> None:
    """Show the last lines of the services' logs."""
    files = _stack().log_files()
    if service != "all" and service not in files:
        from cryptoflow.errors import ConfigurationError

        raise ConfigurationError(f"unknown service {service!r}: choose kafka, elasticsearch or all")
    for name, path in files.items():
        if service in ("all", name):
            console.rule(f"{name}: {path}")
            text = (
                path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else ["(no log yet)"]
            )
            console.print("\n".join(text), markup=False, highlight=False)
