"""The ``cryptoflow`` command: one entry point, one subcommand per part of the system."""

from __future__ import annotations

import inspect
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cryptoflow.cli import (
    _backtest,
    _config,
    _dashboards,
    _data,
    _demo,
    _execute,
    _health,
    _live,
    _notify,
    _optimize,
    _pipeline,
    _retention,
    _setup,
    _signals,
    _stack,
)
from cryptoflow.cli._common import err_console, set_config_path, settings, stop_signals, stopped_by
from cryptoflow.cli._logging import configure_logging
from cryptoflow.config import mask_credentials
from cryptoflow.errors import ConfigurationError, CryptoflowError

__all__ = ["app", "main"]

app = typer.Typer(
    name="cryptoflow",
    help="Crypto trading pipeline: candles, indicators, strategies, brokers, Kafka and Elasticsearch.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="TOML settings file (default: $CRYPTOFLOW_CONFIG or ./cryptoflow.toml)."
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log debug messages (default: $CRYPTOFLOW_LOG_LEVEL).")
    ] = False,
) -> None:
    set_config_path(config)
    # logging first, so that what reading the settings warns about is formatted and masked like the rest
    configure_logging(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        configure_logging(_configured_level())


def _configured_level() -> int:
    """The ``log_level`` setting (``CRYPTOFLOW_LOG_LEVEL``, ``.env`` or the TOML file) as a logging level.

    Other invalid settings do not stop a command that may not need them: the level is then INFO, and a
    command reading the settings reports them. An invalid level itself is reported here.
    """
    try:
        return logging.getLevelName(settings().log_level)
    except ConfigurationError as exc:
        if "CRYPTOFLOW_LOG_LEVEL:" in str(exc):
            raise
        return logging.INFO


app.add_typer(_config.app, name="config")
app.add_typer(_stack.app, name="stack")
app.add_typer(_data.app, name="data")
app.add_typer(_live.exchange_app, name="exchange")
app.command("trade")(_live.trade)
app.command("indicators")(_live.indicators)
app.command("signals")(_signals.signals)
app.command("demo")(_demo.demo)
app.command("backtest")(_backtest.backtest)
app.command("optimize")(_optimize.optimize)
app.command("sink")(_pipeline.sink)
app.command("replay")(_pipeline.replay)
app.command("notify")(_notify.notify)
app.command("execute")(_execute.execute)
app.command("status")(_execute.status)
app.add_typer(_dashboards.dashboards_app, name="dashboards")
app.add_typer(_dashboards.dashboard_app, name="dashboard")
app.command("setup")(_setup.setup)
app.command("health")(_health.health)
app.command("retention")(_retention.retention)


def _reflowed(doc: str) -> str:
    """A docstring as help text: the lines of a paragraph joined, so the terminal wraps them at its own
    width (typer's rich help keeps the source's line breaks, which at 80 columns gave a ragged text);
    a line that starts a list item (``-``) or is indented keeps its break."""
    paragraphs = []
    for paragraph in doc.split("\n\n"):
        lines = paragraph.splitlines()
        text = lines[0] if lines else ""
        for line in lines[1:]:
            kept = line.startswith((" ", "-", "*"))
            text += ("\n" if kept else " ") + (line if kept else line.strip())
        paragraphs.append(text)
    return "\n\n".join(paragraphs)


def _reflow_help(group: typer.Typer) -> None:
    for info in group.registered_commands:
        if info.help is None and info.callback is not None and info.callback.__doc__:
            info.help = _reflowed(inspect.cleandoc(info.callback.__doc__))
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _reflow_help(sub.typer_instance)


_reflow_help(app)


_SERVICE_CLIENTS = ("elasticsearch", "elastic_transport", "confluent_kafka", "cimpl")


def _service_error(exc: Exception) -> str:
    if type(exc).__module__.startswith(("elasticsearch", "elastic_transport")):
        from cryptoflow.elastic import describe_error

        return f"Elasticsearch: {describe_error(exc)}"
    error = exc.args[0] if exc.args else exc
    return mask_credentials(f"Kafka: {error.str() if hasattr(error, 'str') else error}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 success, 1 failure, 2 usage or configuration, 130
    interrupted (Ctrl-C). A command stopped by SIGTERM (``docker stop``) after a clean stop exits 0. User
    errors print their message, never a traceback."""
    with stop_signals():
        code = _run(argv)
    stop = stopped_by()
    if stop == signal.SIGTERM and code in (0, 130):
        return 0
    if (stop == signal.SIGINT and code == 0) or code == 130:
        err_console.print("interrupted")
        return 130
    return code


def _let_go(exc: BaseException) -> None:
    """Drop what a reported error holds: its traceback (every frame it left, with their locals) and the
    error it was raised from.

    confluent-kafka keeps a reference to an exception raised from a client's callback, as the
    ConfigurationError of a wrong password or an untrusted certificate is, for ever. Through the frames of
    its traceback the Kafka client stayed alive, so it was never destroyed: its threads still ran while
    the interpreter shut down, and the process sometimes died of SIGSEGV instead of exiting with 2.
    """
    exc.__traceback__ = None
    exc.__context__ = None
    exc.__cause__ = None


def _run(argv: list[str] | None) -> int:
    try:
        # Without standalone mode click *returns* the code of a typer.Exit (and turns Ctrl-C into 130)
        # instead of raising it; that return value is the process's exit code.
        code = app(args=argv, standalone_mode=False)
    except CryptoflowError as exc:
        err_console.print(f"[bold red]error:[/] {escape(mask_credentials(str(exc)))}", highlight=False)
        _let_go(exc)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return 130
    except typer.TyperException as exc:  # usage errors (unknown option, missing argument, bare command)
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        return int(getattr(exc, "exit_code", 2))
    except Exception as exc:
        # a service's client error no command translated (Elasticsearch, Kafka): one line, not a traceback
        if not type(exc).__module__.startswith(_SERVICE_CLIENTS):
            raise
        err_console.print(
            f"[bold red]error:[/] {escape(_service_error(exc))}; check that the service is up and the "
            "CRYPTOFLOW_* settings that point at it (`cryptoflow config show`; --verbose for details)",
            highlight=False,
        )
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
