"""``cryptoflow dashboards import``, ``cryptoflow dashboard serve``, ``cryptoflow setup`` and
``cryptoflow health``: the dashboards and what the production stack (``docker/``) runs around them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib import error as urlerror
from urllib import request as urlrequest

import typer
from rich.markup import escape

from cryptoflow.cli._common import console, err_console, fail, settings
from cryptoflow.cli._paths import output_file
from cryptoflow.config import mask_credentials, register_secret
from cryptoflow.errors import CryptoflowError, TemporaryError

__all__ = ["dashboard_app", "dashboards_app", "health", "setup"]

_OBJECTS = Annotated[
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


def _objects_dir(given: Path | None) -> Path:
    from cryptoflow.kibana import default_objects_dir

    return given or default_objects_dir()


def _import(
    url: str,
    api_key: str | None,
    user: str | None,
    password: str | None,
    space: str | None,
    objects_dir: Path | None,
    wait_s: float = 0.0,
) -> None:
    from cryptoflow.kibana import KibanaAuth, KibanaClient, read_objects, with_index_prefix

    register_secret(api_key)
    register_secret(password)
    client = KibanaClient(url, KibanaAuth(api_key=api_key or None, user=user, password=password), space)
    objects = with_index_prefix(
        read_objects(_objects_dir(objects_dir)), settings().elasticsearch.index_prefix
    )
    if wait_s > 0:
        client.wait_ready(wait_s)
    result = client.import_objects(objects)
    where = f" (space {space})" if space else ""
    console.print(
        f"[green]imported[/] {result.success_count} saved objects into Kibana {result.kibana_version}"
        f"{where} at {escape(client.url)}",
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
    objects_dir: _OBJECTS = None,
    wait: float = typer.Option(0.0, "--wait", help="Seconds to wait for Kibana to come up first."),
) -> None:
    """Import the data views and the Market, Trading and Realtime dashboards (same ids: overwrites)."""
    _import(kibana_url, api_key, user, password, space, objects_dir, wait)


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
    objects_dir: _OBJECTS = None,
    wait: float = typer.Option(120.0, "--wait", help="Seconds to wait for Kibana to come up."),
    done_file: Annotated[
        Path | None, typer.Option("--done-file", help="Touch this file when every step succeeded.")
    ] = None,
) -> None:
    """Prepare a stack: Kafka topics, Elasticsearch index templates, Kibana saved objects.

    Safe to run again; it never deletes anything.
    """
    from cryptoflow.elastic import install_templates, make_client
    from cryptoflow.kafka import TOPIC_KINDS, ensure_topics, topic_name

    config = settings()
    output_file(done_file, "--done-file")
    if done_file is not None and done_file.exists():
        done_file.unlink()
    client = make_client(config.elasticsearch)
    if kibana_system_password:
        from elasticsearch import ApiError, TransportError

        from cryptoflow.elastic import describe_error

        register_secret(kibana_system_password)
        try:
            client.security.change_password(username="kibana_system", password=kibana_system_password)
        except (ApiError, TransportError) as exc:
            raise CryptoflowError(
                f"could not set the kibana_system password ({describe_error(exc)}): check that "
                "Elasticsearch is up and that CRYPTOFLOW_ELASTICSEARCH__* name a user allowed to manage users"
            ) from None
        console.print("kibana_system password set")
    created = ensure_topics(config.kafka, [topic_name(config.kafka, kind) for kind in TOPIC_KINDS])
    console.print(f"topics: {len(TOPIC_KINDS)} present ({len(created)} created)")
    aliases = install_templates(client, config.elasticsearch)
    console.print(f"index templates (time partitions read through {', '.join(aliases.values())})")
    if kibana_url:
        _import(kibana_url, api_key, user, password, space, objects_dir, wait)
    if done_file is not None:
        done_file.parent.mkdir(parents=True, exist_ok=True)
        done_file.touch()


def health(
    kafka: bool = typer.Option(False, "--kafka", help="Kafka answers a metadata request."),
    elasticsearch: bool = typer.Option(
        False, "--elasticsearch", help="Elasticsearch cluster is yellow/green."
    ),
    url: Annotated[list[str] | None, typer.Option("--url", help="This URL answers 2xx (repeatable).")] = None,
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, help="Seconds per check."),
) -> None:
    """Exit 0 when every requested check passes (for container healthchecks); say which failed."""
    failures: list[str] = []
    if kafka:
        from cryptoflow.kafka import ping

        try:  # a wrong password or an untrusted certificate is a ConfigurationError (exit code 2)
            ping(settings().kafka, timeout_s=timeout)
        except TemporaryError as exc:
            failures.append(f"kafka: {exc}")
    if elasticsearch:
        from cryptoflow.elastic import describe_error, make_client

        config = settings().elasticsearch
        where = "Elastic Cloud" if config.cloud_id else ", ".join(config.host_list)
        # one attempt, bounded by --timeout: the client's own retries would multiply it
        client = make_client(config).options(request_timeout=timeout, max_retries=0)
        try:
            answer = client.cluster.health(timeout=f"{max(1, int(timeout))}s")
            if answer["status"] == "red":
                failures.append(f"elasticsearch at {where}: cluster status red")
        except Exception as exc:  # any failure is the answer of a healthcheck
            failures.append(f"elasticsearch at {where}: {describe_error(exc)}")
    for address in url or []:
        try:
            with urlrequest.urlopen(address, timeout=timeout) as response:  # noqa: S310
                if not 200 <= response.status < 300:
                    failures.append(f"{address}: HTTP {response.status}")
        except (urlerror.URLError, OSError, ValueError) as exc:
            failures.append(f"{address}: {getattr(exc, 'reason', exc)}")
    if not (kafka or elasticsearch or url):
        raise fail("nothing to check: give --kafka, --elasticsearch and/or --url", code=2)
    if failures:
        for failure in failures:
            err_console.print(f"[red]unhealthy[/] {escape(mask_credentials(failure))}", highlight=False)
        raise typer.Exit(1)
    console.print("healthy")
