"""What a person reads: the notice of each event, and the exact body of each webhook format."""

from __future__ import annotations

import json

import pytest

from cryptoflow.config import NotifyTarget
from cryptoflow.events import EventError, encode
from cryptoflow.notify import MAX_LINES, Notice, posts, read_notice
from cryptoflow.testing.events import START_MS, candle_event, signal_event, trade_events

ENTRY, EXIT = (read_notice(encode(event)) for event in trade_events(START_MS, START_MS + 600_000))
ENTRY_TEXT = "ENTRY ETHUSDT short 2 @ 1000 [paper custom run-1]"
EXIT_TEXT = "EXIT ETHUSDT short 2 @ 990 PnL +18.41 (+0.92%) take_profit [paper custom run-1]"


def lock_message(**lock: object) -> bytes:
    return json.dumps(
        {
            "schema_name": "lock", "schema_version": 1, "event_id": "lock-1", "source": "paper",
            "run_id": "bot-1", "strategy": None, "symbol": "ETHUSDT", "interval": "1h",
            "time_ms": 1700000000000, "@timestamp": "2023-11-14T22:13:20.000Z",
            "lock": {"protection": "stoploss_guard", "reason": "3 stop-losses within 60 min", **lock},
        }
    ).encode()  # fmt: skip


def test_entries_exits_and_signals_read_as_one_line_each() -> None:
    assert ENTRY is not None and ENTRY.kind == "entry" and ENTRY.text == ENTRY_TEXT
    assert EXIT is not None and EXIT.kind == "exit" and EXIT.text == EXIT_TEXT
    assert (EXIT.side, EXIT.quantity, EXIT.price, EXIT.pnl, EXIT.reason) == (
        "short", 2.0, 990.0, 18.41, "take_profit"
    )  # fmt: skip
    signal = read_notice(encode(signal_event(START_MS)))
    assert signal is not None and signal.text == "SIGNAL ETHUSDT entry_short @ 1000 [paper custom run-1]"
    assert read_notice(encode(candle_event(START_MS))) is None  # nobody is told about candles


def test_locks_and_errors_of_the_executor() -> None:
    lock = read_notice(lock_message(until_ms=1700003600000, symbol="ETHUSDT"))
    assert lock is not None and lock.kind == "lock" and lock.event_id == "lock-1"
    assert lock.text == (
        "LOCK ETHUSDT entries locked until 2023-11-14T23:13:20.000Z: stoploss_guard: 3 stop-losses "
        "within 60 min [paper bot-1]"
    )
    everything = read_notice(lock_message(until_ms=None, symbol=None, run_id=None))  # portfolio.Lock's fields
    assert everything is not None and everything.text == (
        "LOCK all symbols entries locked until further notice: stoploss_guard: 3 stop-losses within 60 min "
        "[paper bot-1]"
    )
    error = json.loads(lock_message())
    del error["lock"]
    error |= {"schema_name": "error", "event_id": "error-1", "strategy": "basic"}
    error["error"] = {"category": "exchange_rejection", "message": "code -2019: Margin is insufficient"}
    notice = read_notice(json.dumps(error).encode())
    assert notice is not None and notice.kind == "error"
    assert (
        notice.text
        == "ERROR ETHUSDT: exchange_rejection: code -2019: Margin is insufficient [paper basic bot-1]"
    )


@pytest.mark.parametrize(
    ("value", "category", "says"),
    [
        (b"not json", "invalid_json", "not valid JSON"),
        (b'{"schema_name": "trade"}', "invalid_event", "trade event"),
        (lock_message(protection=""), "invalid_event", "lock.protection"),
        (json.dumps({**json.loads(lock_message()), "lock": None}).encode(), "invalid_event", "'lock' object"),
    ],
    ids=["not json", "broken trade", "lock without protection", "lock without its object"],
)
def test_what_is_no_event_says_why(value: bytes, category: str, says: str) -> None:
    with pytest.raises(EventError) as caught:
        read_notice(value)
    assert caught.value.category == category and says in caught.value.reason


def target(format: str, **settings: object) -> NotifyTarget:
    secrets = {"telegram": {"bot_token": "123456:SECRET-token", "chat_id": "-1001"}}
    return NotifyTarget(
        name=format,
        format=format,
        webhook_url="http://127.0.0.1:9/hook",
        **secrets.get(format, {}),
        **settings,
    )  # type: ignore[arg-type]


def test_generic_posts_one_json_object_per_notice() -> None:
    assert EXIT is not None
    (post,) = posts(target("generic"), [EXIT])
    assert post.event_ids == (EXIT.event_id,)
    assert post.body == {
        "kind": "exit", "text": EXIT_TEXT, "event_id": EXIT.event_id, "source": "paper", "run_id": "run-1",
        "strategy": "custom", "symbol": "ETHUSDT", "interval": "1m", "time": "2023-11-14T22:23:20.000Z",
        "side": "short", "quantity": 2.0, "price": 990.0, "pnl": 18.41, "pnl_pct": EXIT.pnl_pct,
        "reason": "take_profit", "until": None,
    }  # fmt: skip
    assert EXIT.pnl_pct == pytest.approx(0.9205)


def test_slack_and_telegram_gather_waiting_notices_in_one_message() -> None:
    assert ENTRY is not None and EXIT is not None
    (slack,) = posts(target("slack"), [ENTRY, EXIT])
    text = f"*ENTRY* {ENTRY_TEXT[6:]}\n*EXIT* {EXIT_TEXT[5:]}"
    assert slack.body == {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }
    assert slack.event_ids == (ENTRY.event_id, EXIT.event_id)
    (telegram,) = posts(target("telegram"), [ENTRY, EXIT])
    assert telegram.body == {
        "chat_id": "-1001",
        "text": f"<b>ENTRY</b> {ENTRY_TEXT[6:]}\n<b>EXIT</b> {EXIT_TEXT[5:]}",
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }


def test_markup_in_a_reason_is_escaped_and_messages_stay_within_limits() -> None:
    assert EXIT is not None
    from dataclasses import replace

    sneaky = replace(EXIT, reason="<!channel> & <b>")
    (slack,) = posts(target("slack"), [sneaky])
    assert "&lt;!channel&gt; &amp; &lt;b&gt;" in slack.body["text"] and "<!channel>" not in slack.body["text"]
    (telegram,) = posts(target("telegram"), [sneaky])
    assert "&lt;!channel&gt; &amp; &lt;b&gt;" in telegram.body["text"]

    many = [replace(EXIT, event_id=f"id-{i}", reason="x" * 400) for i in range(3 * MAX_LINES)]
    for format, limit in (("slack", 3000), ("telegram", 4096)):
        messages = posts(target(format), many)
        assert [i for post in messages for i in post.event_ids] == [n.event_id for n in many]  # each once
        assert all(len(post.body["text"]) <= limit for post in messages)
        assert all(len(post.event_ids) <= MAX_LINES for post in messages)


def test_a_notice_as_plain_data_round_trips_to_json() -> None:
    assert isinstance(ENTRY, Notice)
    assert json.loads(json.dumps(ENTRY.fields()))["text"] == ENTRY_TEXT
