"""``cryptoflow dashboards import`` (Kibana saved objects) and ``cryptoflow dashboard serve`` (the
built-in page)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from cryptoflow.cli._common import console, settings

if TYPE_CHECKING:
    from cryptoflow.kibana import KibanaTarget

__all__ = ["OBJECTS", "dashboard_app", "dashboards_app", "kibana_import"]

OBJECTS = Annotated[
    Path | None,
    typer.Option(
        "--objects",
        envvar="KIBANA_OBJECTS_DIR",
        help="Directory of *.ndjson saved objects (default: dashboards/kibana).",
    ),
]

dashboards_app = typer.Typer(help="Kibana saved objects (data views and dashboards).", no_args_is_help=True)
dashboard_app = typer.Typer(
    help="The built-in dashboard page (Market, Trading, Realtime), read from Elasticsearch.",
    no_args_is_help=True,
)


def kibana_import(target: KibanaTarget) -> None:
    """Import the saved objects into Kibana and say where they went."""
    from cryptoflow.kibana import import_saved_objects

    imported = import_saved_objects(target, settings().elasticsearch.index_prefix)
    where = f" (space {imported.space})" if imported.space else ""
    console.print(
        f"[green]imported[/] {imported.result.success_count} saved objects into Kibana "
        f"{imported.result.kibana_version}{where} at {escape(imported.url)}",
        highlight=False,
    )


@dashboards_app.command("import")
def import_command(
    kibana_url: str = typer.Option(
        ..., "--kibana-url", envvar="KIBANA_URL", help="e.g. http://127.0.0.1:5601"
    ),
    api_key: str | None = typer.Option(None, "--api-key", envvar="KIBANA_API_KEY", help="Kibana API key."),
    user: str | None = typer.Option(None, "--user", envvar="KIBANA_USER", help="Basic-auth user."),
    password: str | None = typer.Option(
        None, "--password", envvar="KIBANA_PASSWORD", help="Basic-auth password (better: $KIBANA_PASSWORD)."
    ),
    space: str | None = typer.Option(None, "--space", help="Kibana space id (default: the default space)."),
    objects_dir: OBJECTS = None,
    wait: float = typer.Option(0.0, "--wait", help="Seconds to wait for Kibana to come up first."),
) -> None:
    """Import the data views and the Market, Trading and Realtime dashboards (same ids: overwrites)."""
    from cryptoflow.kibana import KibanaTarget

    kibana_import(KibanaTarget(kibana_url, api_key, user, password, space, objects_dir, wait))


@dashboard_app.command("serve")
def serve(
    port: int = typer.Option(8050, "--port", min=0, max=65535, help="TCP port (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0: all)."),
    refresh: float = typer.Option(5.0, "--refresh", min=1.0, help="Seconds between the page's refreshes."),
) -> None:
    """Serve the dashboard page; the backend queries Elasticsearch (no credentials reach the browser)."""
    from cryptoflow.dashboard import DashboardServer

    server = DashboardServer(settings().elasticsearch, host=host, port=port, refresh_s=refresh)
    console.print(f"dashboard at [bold]{server.url}[/] (Ctrl-C stops it)", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
