"""``cryptoflow config``: inspect the effective settings."""

from __future__ import annotations

import json

import typer

from cryptoflow.cli._common import console, settings
from cryptoflow.config import masked

app = typer.Typer(help="Inspect the effective settings.", no_args_is_help=True)


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Print the effective settings (environment, .env, config file, defaults), secrets masked."""
    data = masked(settings())
    if as_json:
        console.print_json(json.dumps(data))
        return
    from rich.table import Table

    table = Table("setting", "value", title="cryptoflow settings")
    for section, values in data.items():
        if isinstance(values, dict):
            for name, value in values.items():
                table.add_row(f"CRYPTOFLOW_{section.upper()}__{name.upper()}", str(value))
        else:
            table.add_row(f"CRYPTOFLOW_{section.upper()}", str(values))
    console.print(table)
