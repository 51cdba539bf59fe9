"""What every subcommand shares: the settings of this invocation and the console."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from cryptoflow.config import Settings, load_settings, mask_credentials

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

_config_path: list[Path | None] = [None]


def set_config_path(path: Path | None) -> None:
    """Remember ``--config`` from the top-level callback."""
    _config_path[0] = path


def settings(**overrides: object) -> Settings:
    """The validated settings of this invocation (``--config`` file, environment, ``.env``)."""
    return load_settings(_config_path[0], **overrides)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a user-facing error (credentials masked) and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {escape(mask_credentials(message))}", highlight=False)
    return typer.Exit(code)
