"""``cryptoflow stack``: the local single-node Kafka and Elasticsearch."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run the local Kafka + Elasticsearch stack (fetched from Maven Central).",
                  no_args_is_help=True)
