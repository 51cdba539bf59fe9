"""``cryptoflow setup``: prepare a stack (see :func:`cryptoflow.stack.setup_stack`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cryptoflow.cli._common import console, settings
from cryptoflow.cli._dashboards import OBJECTS, kibana_import
from cryptoflow.cli._paths import output_file

__all__ = ["setup"]


def setup(
    kibana_url: str | None = typer.Option(
        None, "--kibana-url", envvar="KIBANA_URL", help="Also import the Kibana saved objects there."
    ),
    api_key: str | None = typer.Option(None, "--api-key", envvar="KIBANA_API_KEY", help="Kibana API key."),
    user: str | None = typer.Option(None, "--user", envvar="KIBANA_USER", help="Kibana basic-auth user."),
    password: str | None = typer.Option(
        None, "--password", envvar="KIBANA_PASSWORD", help="Kibana password."
    ),
    space: str | None = typer.Option(None, "--space", help="Kibana space id."),
    kibana_system_password: str | None = typer.Option(
        None,
        "--kibana-system-password",
        envvar="KIBANA_SYSTEM_PASSWORD",
        help="Set this password on Elasticsearch's kibana_system user first (docker stack).",
    ),
    objects_dir: OBJECTS = None,
    wait: float = typer.Option(120.0, "--wait", help="Seconds to wait for Kibana to come up."),
    done_file: Annotated[
        Path | None, typer.Option("--done-file", help="Touch this file when every step succeeded.")
    ] = None,
) -> None:
    """Prepare a stack: Kafka topics, Elasticsearch index templates, Kibana saved objects.

    Safe to run again; it never deletes anything.
    """
    from cryptoflow.kibana import KibanaTarget
    from cryptoflow.stack import setup_stack

    config = settings()
    output_file(done_file, "--done-file")
    if done_file is not None and done_file.exists():
        done_file.unlink()
    setup_stack(config, kibana_system_password=kibana_system_password, on_step=console.print)
    if kibana_url:
        kibana_import(KibanaTarget(kibana_url, api_key, user, password, space, objects_dir, wait))
    if done_file is not None:
        done_file.touch()  # output_file made its folder
