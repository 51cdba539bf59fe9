"""``cryptoflow notify`` on the real local Kafka, posting to a real local HTTP receiver."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cryptoflow.config import NotifySettings, NotifyTarget, Settings
from cryptoflow.events import encode
from cryptoflow.kafka import EventProducer, topic_name
from cryptoflow.notify import Notifier, NotifyOptions, TargetRefused, read_notice
from cryptoflow.testing.events import START_MS, candle_event, signal_event, trade_events
from cryptoflow.testing.services import committed_to_end, prefix_env, wait_until
from cryptoflow.testing.webhooks import Reply, WebhookReceiver

pytestmark = pytest.mark.integration

KINDS = ("trades", "signals")
TOKEN = "987654321:AAF-very-secret-telegram-token"
CRYPTOFLOW = str(Path(sys.executable).with_name("cryptoflow"))


def with_targets(settings: Settings, *targets: dict[str, object]) -> Settings:
    return settings.model_copy(
        update={"notify": NotifySettings(targets=[NotifyTarget(**t) for t in targets])}
    )  # type: ignore[arg-type]


def options(tmp_path: Path, **more: object) -> NotifyOptions:
    return NotifyOptions(once=True, state_file=tmp_path / "delivered.json", backoff_initial_s=0.05, **more)  # type: ignore[arg-type]


def publish(settings: Settings, events: list) -> None:
    with EventProducer(settings.kafka) as producer:
        producer.send_many(events)


def trades(n: int, run_id: str = "run-1", source: str = "paper") -> list:
    """``n`` trades (two legs each), one minute apart."""
    return [
        leg
        for i in range(n)
        for leg in trade_events(
            START_MS + i * 60_000, START_MS + i * 60_000 + 30_000, run_id=run_id, source=source
        )
    ]  # type: ignore[arg-type]


def notify_env(pipeline: Settings, tmp_path: Path, targets: list[dict[str, object]]) -> dict[str, str]:
    """The environment of a ``cryptoflow notify`` process on the test's topics, posting to ``targets``."""
    return prefix_env(pipeline.kafka.topic_prefix) | {
        "CRYPTOFLOW_NOTIFY__TARGETS": json.dumps(targets),
        "CRYPTOFLOW_STACK__HOME": str(tmp_path / "home"),
        "CRYPTOFLOW_LOG_LEVEL": "DEBUG",
        "COLUMNS": "200",
    }


def signalled(env: dict[str, str], cwd: Path, until: Callable[[], None], signum: int) -> tuple[int, str, str]:
    """Run ``cryptoflow notify`` until ``until()`` returns, send it ``signum``; its exit code and output."""
    process = subprocess.Popen(
        [CRYPTOFLOW, "notify"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env
    )
    try:
        until()
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, out, err


def test_each_target_gets_its_notices_in_its_format_once_and_offsets_are_committed(
    pipeline: Settings, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    events = (
        trades(2)
        + [signal_event(START_MS), candle_event(START_MS)]
        + trades(1, run_id="other", source="live")
    )
    publish(pipeline, events)
    settings = with_targets(
        pipeline,
        {"name": "hook", "webhook_url": receiver.url("/generic"), "kinds": ["entry", "exit", "signal"]},
        {"name": "slack", "format": "slack", "webhook_url": receiver.url("/slack"), "min_interval_s": 0,
         "run_ids": ["run-1"]},
        {"name": "tg", "format": "telegram", "bot_token": TOKEN, "chat_id": "42", "api_url": receiver.url(""),
         "sources": ["live"], "kinds": ["exit"]},
    )  # fmt: skip
    stats = Notifier(settings, options(tmp_path)).run()

    notices = {e.event_id: read_notice(encode(e)) for e in events}
    generic = [r.body for r in receiver.requests if r.path == "/generic"]
    # every entry, exit and signal, one post each (the order within a partition is kept; the signal is
    # on its own topic), never the candle
    expected = [e for e in events if e.kind in ("trade", "signal")]
    assert sorted(b["event_id"] for b in generic) == sorted(e.event_id for e in expected)
    assert all(body == notices[body["event_id"]].fields() for body in generic)  # type: ignore[union-attr]
    # Slack: run-1's entries and exits, gathered in one message, no signal (not among its kinds)
    (slack,) = [r.body for r in receiver.requests if r.path == "/slack"]
    lines = slack["text"].split("\n")
    assert len(lines) == 4 and all("[paper custom run-1]" in line for line in lines)
    assert slack["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": slack["text"]}}]
    # Telegram: the live exit only, through sendMessage with the token in the path
    (telegram,) = [r for r in receiver.requests if r.path.startswith("/bot")]
    assert telegram.path == f"/bot{TOKEN}/sendMessage"
    exit_of_other = events[-1]
    assert telegram.body == {
        "chat_id": "42",
        "text": "<b>EXIT</b> " + notices[exit_of_other.event_id].text.split(" ", 1)[1],  # type: ignore[union-attr]
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }
    assert stats.notices == len(generic) + 4 + 1
    assert stats.read == len(events) - 1  # the candle is on a topic notify does not read
    assert committed_to_end(pipeline, f"{pipeline.kafka.topic_prefix}-notify", KINDS)

    # a new group (offsets lost) with the same delivery record posts nothing again
    again = Notifier(settings, options(tmp_path, group_id=f"{pipeline.kafka.topic_prefix}-other")).run()
    assert again.posts == 0 and again.duplicates == stats.notices
    assert len(receiver.requests) == len(generic) + 2


def test_a_target_that_fails_three_times_gets_the_message_once(
    pipeline: Settings, receiver: WebhookReceiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    publish(pipeline, trades(1)[:1])
    receiver.script = [
        Reply(503, b"busy", {"Retry-After": "1"}),  # the header says how long
        Reply(drop=True),
        Reply(429, b'{"ok":false,"error_code":429,"parameters":{"retry_after":2}}'),  # Telegram's body
    ]
    settings = with_targets(pipeline, {"name": "hook", "webhook_url": receiver.url()})
    with caplog.at_level(logging.WARNING, logger="cryptoflow.notify"):
        stats = Notifier(settings, options(tmp_path)).run()
    assert [r.status for r in receiver.requests] == [503, 0, 429, 200]
    assert len({json.dumps(r.body) for r in receiver.requests}) == 1  # the same message each time
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert retries[0] == "notify: hook not reached (HTTP 503 busy); retrying in 1.0 s"
    assert "ConnectionResetError" in retries[1] or "RemoteDisconnected" in retries[1]
    assert retries[2] == "notify: hook not reached (HTTP 429 Too Many Requests); retrying in 2.0 s"
    assert len(receiver.accepted) == 1 and stats.retries == 3 and stats.notices == 1
    assert committed_to_end(pipeline, f"{pipeline.kafka.topic_prefix}-notify", KINDS)
    # nothing left: a second run posts nothing
    assert Notifier(settings, options(tmp_path)).run().posts == 0
    assert len(receiver.accepted) == 1


def test_a_refusing_target_stops_without_committing_and_nothing_is_lost(
    pipeline: Settings, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    publish(pipeline, trades(1))
    good = {"name": "good", "webhook_url": receiver.url("/good")}
    bad = {
        "name": "tg",
        "format": "telegram",
        "bot_token": TOKEN,
        "chat_id": "nope",
        "api_url": receiver.url(""),
    }
    settings = with_targets(pipeline, good, bad)
    receiver.script = [
        Reply(),
        Reply(),
        Reply(400, b'{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}'),
    ]
    with pytest.raises(TargetRefused) as refused:
        Notifier(settings, options(tmp_path)).run()
    message = str(refused.value)
    assert (
        "notify target 'tg' (telegram) refused the message: HTTP 400 Bad Request: chat not found" in message
    )
    assert TOKEN not in message and refused.value.exit_code == 2
    assert not committed_to_end(pipeline, f"{pipeline.kafka.topic_prefix}-notify", KINDS)

    # fixed: the refused notices go out, the target that had them is not posted to again
    fixed = with_targets(pipeline, good, {**bad, "chat_id": "42"})
    stats = Notifier(fixed, options(tmp_path)).run()
    assert stats.duplicates == 2 and stats.posts == 1
    assert [r.path for r in receiver.accepted] == ["/good", "/good", f"/bot{TOKEN}/sendMessage"]
    assert committed_to_end(pipeline, f"{pipeline.kafka.topic_prefix}-notify", KINDS)


def test_messages_that_are_no_events_are_skipped(
    pipeline: Settings, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    entry = trades(1)[:1]
    with EventProducer(pipeline.kafka) as producer:
        producer.send_raw(topic_name(pipeline.kafka, "trades"), b"not json", key=entry[0].key)
        producer.send_many(entry)
    stats = Notifier(
        with_targets(pipeline, {"name": "hook", "webhook_url": receiver.url()}), options(tmp_path)
    ).run()
    assert stats.skipped == 1 and stats.notices == 1 and len(receiver.accepted) == 1


def test_cli_sigterm_exits_0_with_everything_delivered_committed_and_the_token_never_shown(
    pipeline: Settings, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    targets = [{"name": "tg", "format": "telegram", "bot_token": TOKEN, "chat_id": "42",
                "api_url": receiver.url(""), "min_interval_s": 0}]  # fmt: skip
    env = notify_env(pipeline, tmp_path, targets)
    receiver.script = [Reply(502, f"bad gateway for bot{TOKEN}".encode())]  # a retry is logged

    def six_delivered() -> None:
        publish(pipeline, trades(3))
        delivered = lambda: sum(r.body["text"].count("\n") + 1 for r in receiver.accepted)  # noqa: E731
        wait_until(lambda: delivered() == 6, 60, "six notices delivered")

    code, out, err = signalled(env, tmp_path, six_delivered, signal.SIGTERM)
    assert code == 0, out + err
    assert "Traceback" not in err and TOKEN not in out + err
    assert "tg not reached (HTTP 502 bad gateway for bot***); retrying" in err  # the retry, masked
    assert "delivered 6 notice(s)" in " ".join(out.split())
    assert committed_to_end(pipeline, f"{pipeline.kafka.topic_prefix}-notify", KINDS)

    # a target refusing: exit 2, one clear line, no token
    receiver.script = [Reply(401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}')]
    publish(pipeline, trades(1, run_id="run-2"))
    refused = subprocess.run(
        [CRYPTOFLOW, "notify", "--once"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    output = refused.stdout + refused.stderr
    assert refused.returncode == 2, output
    assert "notify target 'tg' (telegram) refused the message: HTTP 401 Unauthorized" in " ".join(
        output.split()
    )
    assert TOKEN not in output and "Traceback" not in output


def test_cli_ctrl_c_is_130_after_a_clean_stop(
    pipeline: Settings, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    env = notify_env(pipeline, tmp_path, [{"name": "hook", "webhook_url": receiver.url()}])
    group = f"{pipeline.kafka.topic_prefix}-notify"

    def delivered_and_committed() -> None:
        publish(pipeline, trades(1))
        wait_until(lambda: len(receiver.accepted) == 2, 60, "both legs delivered")
        wait_until(lambda: committed_to_end(pipeline, group, KINDS), 30, "the commit")

    code, out, err = signalled(env, tmp_path, delivered_and_committed, signal.SIGINT)
    assert code == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    assert "delivered 2 notice(s) in 2 post(s)" in " ".join(out.split())
