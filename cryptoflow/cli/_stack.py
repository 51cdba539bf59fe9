"""``cryptoflow stack``: the local single-node Kafka and Elasticsearch."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from cryptoflow.cli._common import console, err_console, settings
from cryptoflow.errors import ConfigurationError
from cryptoflow.stack import LocalStack

app = typer.Typer(
    help="Run the local Kafka + Elasticsearch stack (fetched once from Maven Central).", no_args_is_help=True
)


def _stack(secure: bool = False) -> LocalStack:
    return LocalStack(settings().stack, secure=secure)


def _say(message: str) -> None:
    err_console.print(f"[dim]stack:[/] {escape(message)}", highlight=False)


@app.command("up")
def up(
    secure: bool = typer.Option(
        False,
        "--secure",
        help="Kafka also listens with SASL_SSL (SCRAM-SHA-512, a CA and certificate made at start) on "
        "CRYPTOFLOW_STACK__KAFKA_SECURE_PORT; prints the settings a client needs.",
    ),
) -> None:
    """Fetch (once), start and wait for Kafka and Elasticsearch on 127.0.0.1. Running it twice is harmless."""
    stack = _stack(secure)
    status = stack.up(on_progress=_say)
    kafka, elastic = status["kafka"], status["elasticsearch"]
    console.print(
        f"[green]up[/]: Kafka {kafka.get('version') or ''} at {kafka['bootstrap']}, "
        f"Elasticsearch {elastic.get('version')} at {elastic['url']} ({elastic.get('health')})",
        highlight=False,
    )
    if secure:
        _print_secure_settings(stack)


def _print_secure_settings(stack: LocalStack) -> None:
    """The settings of a client of the SASL_SSL listener, the password masked (it is in a 0600 file)."""
    kafka = stack.kafka
    environment = kafka.client_environment()
    console.print(
        f"Kafka also listens with SASL_SSL ({environment['CRYPTOFLOW_KAFKA__SASL_MECHANISM']}) "
        f"at {kafka.secure_bootstrap}. A client needs:",
        highlight=False,
        soft_wrap=True,
    )
    for name, value in environment.items():
        if name.endswith("SASL_PASSWORD"):
            value = f"***  (in {kafka.password_file})"
        console.print(f"  {name}={value}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"All of them, password included, are in {kafka.client_env_file} (mode 600): "
        f"`set -a; . {kafka.client_env_file}; set +a`, or copy its lines into .env",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@app.command("status")
def status() -> None:
    """Print JSON: whether each service answers, where, its version and the managed pid."""
    result = _stack().status()
    console.print_json(json.dumps(result))
    if not all(service["up"] for service in result.values()):
        raise typer.Exit(1)


@app.command("down")
def down() -> None:
    """Stop exactly the processes `stack up` started (from their pid files)."""
    stopped = _stack().down(on_progress=_say)
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of the stack was running")


@app.command("logs")
def logs(
    service: str = typer.Argument("all", help="kafka, elasticsearch or all"),
    lines: int = typer.Option(50, "--lines", "-n", help="How many lines from the end of each log."),
) -> None:
    """Show the last lines of the services' logs."""
    files = _stack().log_files()
    if service != "all" and service not in files:
        raise ConfigurationError(f"unknown service {service!r}: choose kafka, elasticsearch or all")
    for name, path in files.items():
        if service in ("all", name):
            console.rule(f"{name}: {path}")
            text = (
                path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else ["(no log yet)"]
            )
            console.print("\n".join(text), markup=False, highlight=False)


def _owner(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    uid, _, gid = text.partition(":")
    if not uid.isdigit() or not (gid or uid).isdigit():
        raise ConfigurationError(f"--owner expects uid or uid:gid as numbers (e.g. 1000:1000), got {text!r}")
    return int(uid), int(gid or uid)


@app.command("certs")
def certs(
    folder: Path = typer.Argument(..., help="Where to write them, e.g. the volume of /etc/kafka/secrets."),  # noqa: B008
    host: list[str] = typer.Option(  # noqa: B008
        ["kafka"], "--host", help="A name or IP address clients reach the broker by (repeatable)."
    ),
    owner: str | None = typer.Option(
        None, "--owner", help="uid[:gid] that gets the broker's files (the apache/kafka image runs as 1000)."
    ),
) -> None:
    """Make a CA and a broker certificate for a SASL_SSL Kafka in docker (docker/compose.kafka-secure.yml).

    Writes ca.pem (clients: CRYPTOFLOW_KAFKA__SSL_CA_LOCATION), broker.p12 with broker.p12.password and
    kafka_server_jaas.conf (the apache/kafka image's KAFKA_SSL_* and KAFKA_OPTS). Valid files are kept.
    """
    from cryptoflow.stack import kafka_image_secrets

    tls = kafka_image_secrets(folder, host, _owner(owner))
    console.print(
        f"Kafka TLS files in {folder} for {', '.join(host)}; clients trust {tls.ca_file}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
