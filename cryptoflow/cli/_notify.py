"""``cryptoflow notify``: entries, exits, protection locks and errors from Kafka to webhooks."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from cryptoflow.cli._common import console, parse_options, settings, stop_requests, stopped_by

__all__ = ["notify"]


def notify(
    target: Annotated[
        list[str] | None,
        typer.Option("--target", help="Post only to this configured target (repeatable; default all)."),
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="Consumer group (default <topic prefix>-notify).")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Post what is in the topics, then exit.")] = False,
    state_file: Annotated[
        Path | None,
        typer.Option(
            "--state-file",
            help="Where delivered event ids are kept (default <stack home>/notify/<group>.json).",
        ),
    ] = None,
    max_backoff: Annotated[
        float,
        typer.Option("--max-backoff", help="Longest wait between retries of an unreachable target (s)."),
    ] = 60.0,
) -> None:
    """Post entries, exits, protection locks and errors (and signals, if a target asks) to webhooks.

    Targets (generic JSON, Slack, Telegram) and their filters are settings: CRYPTOFLOW_NOTIFY__TARGETS
    (a JSON list) or notify.targets tables in the config file. Offsets are committed only after every
    target accepted its notices; what was delivered is not posted again after a restart. A target that
    refuses a post (HTTP 4xx) stops the command with exit code 2, nothing lost. SIGTERM finishes the
    batch and exits with 0, SIGINT (Ctrl-C) the same with 130; a second signal aborts at once.
    """
    from cryptoflow.notify import Notifier, NotifyOptions

    options = parse_options(
        NotifyOptions,
        "notify",
        group_id=group,
        targets=tuple(target or ()),
        once=once,
        state_file=state_file,
        backoff_max_s=max_backoff,
    )
    runner = Notifier(settings(), options)
    with stop_requests(runner.stop, "stopping: posting the current batch and committing (again to abort)"):
        stats = runner.run()
    console.print(
        f"delivered {stats.notices:,} notice(s) in {stats.posts:,} post(s), {stats.duplicates:,} "
        f"duplicate(s) not posted again, {stats.skipped:,} message(s) skipped, {stats.retries:,} "
        f"retr{'y' if stats.retries == 1 else 'ies'} in {stats.elapsed_s:.1f} s",
        highlight=False,
    )
    if stopped_by() == signal.SIGINT:
        raise typer.Exit(130)  # Ctrl-C: stopped cleanly, but the work was interrupted
