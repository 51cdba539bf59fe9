"""``cryptoflow health``: container healthchecks (see :func:`cryptoflow.stack.check_health`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from cryptoflow.cli._common import console, err_console, fail, settings
from cryptoflow.config import mask_credentials

__all__ = ["health"]


def health(
    kafka: bool = typer.Option(False, "--kafka", help="Kafka answers a metadata request."),
    elasticsearch: bool = typer.Option(
        False, "--elasticsearch", help="Elasticsearch cluster is yellow/green."
    ),
    url: Annotated[list[str] | None, typer.Option("--url", help="This URL answers 2xx (repeatable).")] = None,
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, help="Seconds per check."),
) -> None:
    """Exit 0 when every requested check passes (for container healthchecks); say which failed."""
    from cryptoflow.stack import check_health

    if not (kafka or elasticsearch or url):
        raise fail("nothing to check: give --kafka, --elasticsearch and/or --url", code=2)
    failures = check_health(
        kafka=settings().kafka if kafka else None,
        elasticsearch=settings().elasticsearch if elasticsearch else None,
        urls=url or (),
        timeout_s=timeout,
    )
    if failures:
        for failure in failures:
            err_console.print(f"[red]unhealthy[/] {escape(mask_credentials(failure))}", highlight=False)
        raise typer.Exit(1)
    console.print("healthy")
