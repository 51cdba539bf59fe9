"""``cryptoflow retention``: delete whole time partitions older than each kind's kept period."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from cryptoflow.cli._common import console, settings
from cryptoflow.errors import CryptoflowError

__all__ = ["retention"]


def retention(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be deleted (with sizes); delete nothing.")
    ] = False,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind", help="Only this kind: candles, indicators, signals, trades, locks, errors (repeatable)."
        ),
    ] = None,
) -> None:
    """Delete the time partitions (<prefix>-<kind>-YYYY.MM[.DD]) that ended more than keep_days ago.

    keep_days per kind comes from the settings (CRYPTOFLOW_RETENTION__<KIND>_KEEP_DAYS, default:
    indicators 14, the others forever). Only indices created by cryptoflow under the configured prefix
    are deleted; the partition covering now - keep_days is always kept. Safe to run on a schedule.
    """
    from cryptoflow.elastic import INDEX_KINDS, apply_retention, make_client

    def say(line: str) -> None:  # whole lines, never wrapped or cut: the output of a cron job is a log
        console.print(line, highlight=False, soft_wrap=True, markup=False)

    config = settings()
    unknown = [k for k in kind or () if k not in INDEX_KINDS]
    if unknown:
        raise typer.BadParameter(
            f"{', '.join(unknown)}: expected one of {', '.join(INDEX_KINDS)}", param_hint="--kind"
        )
    report = apply_retention(
        make_client(config.elasticsearch), config, dry_run=dry_run, kinds=tuple(kind) if kind else None
    )
    when = _utc(report.now_ms, minutes=True)
    say(f"retention of {report.prefix}-* at {when}" + (" (dry run: nothing is deleted)" if dry_run else ""))
    for rule in report.rules:
        if rule.cutoff_ms is None:
            what = "kept forever"
        else:
            what = f"keep {rule.keep_days} days: partitions that ended by {_utc(rule.cutoff_ms, True)} go"
        say(f"  {rule.kind}: {rule.partition} partitions, {what}")
    failed = dict(report.failed)
    width = max((len(partition.index) for partition in report.expired), default=0)
    for partition in report.expired:
        action = "would delete" if dry_run else "deleted"
        if partition.index in failed:
            action = f"NOT deleted ({failed[partition.index]})"
        say(
            f"  {partition.index:<{width}}  {_span(partition.start_ms, partition.end_ms):<24}  "
            f"{_count(partition.docs):>11} documents  {_size(partition.size_bytes):>9}  {action}"
        )
    cutoffs = {rule.kind: rule.cutoff_ms for rule in report.rules}
    for legacy in report.legacy:
        cutoff = cutoffs[legacy.kind]
        if legacy.newest_ms is None:
            newest = "no events"
        else:
            newest = f"newest event {_utc(legacy.newest_ms, True)}"
        expired = cutoff is not None and (legacy.newest_ms is None or legacy.newest_ms < cutoff)
        say(
            f"  {legacy.index}: from before time partitions, kept ({_count(legacy.docs)} documents, "
            f"{_size(legacy.size_bytes)}, {newest})"
            + ("; all of it is past the kept period: safe to delete by hand" if expired else ""),
        )
    for name in report.unmanaged:
        say(f"  left alone {name}: named like a partition but not created by cryptoflow")
    gone = report.expired if dry_run else [p for p in report.expired if p.index in set(report.deleted)]
    docs, size = sum(p.docs or 0 for p in gone), sum(p.size_bytes or 0 for p in gone)
    verb = "would delete" if dry_run else "deleted"
    say(f"{verb} {len(gone)} partition(s) ({_count(docs)} documents, {_size(size)}); kept {len(report.kept)}")
    if report.failed:
        lines = "; ".join(f"{index}: {reason}" for index, reason in report.failed)
        raise CryptoflowError(
            f"could not delete {len(report.failed)} partition(s): {lines}. Run `cryptoflow retention` again"
        )


def _utc(epoch_ms: int, minutes: bool = False) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC" if minutes else "%Y-%m-%d")


def _span(start_ms: int | None, end_ms: int | None) -> str:
    if start_ms is None or end_ms is None:
        return "-"
    last_day = _utc(end_ms - 1)
    first_day = _utc(start_ms)
    return first_day if first_day == last_day else f"{first_day} .. {last_day}"


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _size(value: int | None) -> str:
    if value is None:
        return "?"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"
