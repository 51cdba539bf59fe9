"""What every subcommand shares: the settings of this invocation and the console."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from cryptoflow.config import Settings, load_settings, mask_credentials
from cryptoflow.errors import ConfigurationError, Terminated

_Options = TypeVar("_Options")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

_config_path: list[Path | None] = [None]


def set_config_path(path: Path | None) -> None:
    """Remember ``--config`` from the top-level callback."""
    _config_path[0] = path


def settings(**overrides: object) -> Settings:
    """The validated settings of this invocation (``--config`` file, environment, ``.env``)."""
    return load_settings(_config_path[0], **overrides)


def parse_options(model: Callable[..., _Options], what: str, **values: object) -> _Options:
    """``model(**values)``, a pydantic options model; its validation errors become one
    :class:`~cryptoflow.errors.ConfigurationError` (exit 2): ``invalid <what> option: field: reason``."""
    from pydantic import ValidationError

    try:
        return model(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"invalid {what} option: {problems}") from None


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a user-facing error (credentials masked) and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {escape(mask_credentials(message))}", highlight=False)
    return typer.Exit(code)


_signals: list[int] = []  # the stop signals this invocation received, in order


def note_signal(signum: int) -> None:
    """Record a stop signal a command handled itself (the exit code depends on it: SIGINT 130)."""
    _signals.append(signum)


def stopped_by() -> int | None:
    """The first stop signal received (``signal.SIGINT`` or ``signal.SIGTERM``), or ``None``."""
    return _signals[0] if _signals else None


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    note_signal(signum)
    raise Terminated(f"signal {signum}") if signum == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def stop_signals() -> Iterator[None]:
    """While the CLI runs: Ctrl-C (SIGINT) raises ``KeyboardInterrupt``, SIGTERM raises
    :class:`~cryptoflow.errors.Terminated` (a ``KeyboardInterrupt``), so every command stops the same
    way, and :func:`stopped_by` tells which it was."""
    _signals.clear()
    try:
        previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread (main() called from a test's thread): leave signals alone
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def stop_requests(stop: Callable[[], None], stopping: str) -> Iterator[None]:
    """While a long-running loop runs: the first SIGINT or SIGTERM calls ``stop`` (the loop finishes its
    work, commits and returns) and prints ``stopping``; a second one aborts at once. :func:`main` then
    exits 0 after SIGTERM, 130 after Ctrl-C."""
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        note_signal(signum)
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt
        err_console.print(stopping)
        stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
