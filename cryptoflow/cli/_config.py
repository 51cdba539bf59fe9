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

    rows = []
    for section, values in data.items():
        if isinstance(values, dict):
            rows += [(f"CRYPTOFLOW_{section.upper()}__{name.upper()}", str(v)) for name, v in values.items()]
        else:
            rows.append((f"CRYPTOFLOW_{section.upper()}", str(values)))
    table = Table(title="cryptoflow settings")
    # A name is what the user copies into their environment: it is never cut; long values wrap instead.
    table.add_column("setting", no_wrap=True, min_width=max(len(name) for name, _ in rows))
    table.add_column("value", overflow="fold")
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
