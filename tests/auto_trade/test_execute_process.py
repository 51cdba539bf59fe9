"""``cryptoflow execute`` as a real process on the real Kafka: signals produced to the topic become the
trade and lock events an in-process executor makes of them, also when the process is SIGKILLed midway
and started again (every signal executed at most once, no client order id twice); a signal the bot
cannot trade goes to the DLQ; SIGTERM prints the summary; the sink indexes the locks into their own
index; `cryptoflow status` reads the state back."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from auto_trade import Executor, bot_broker, executor_state_path
from cryptoflow.config import Settings
from cryptoflow.events import Event, LockEvent, TradeEvent, decode, encode
from cryptoflow.kafka import EventProducer
from cryptoflow.portfolio import load_bot
from cryptoflow.sink import Sink, SinkOptions, read_dead_letters
from cryptoflow.stack import Supervisor
from cryptoflow.testing.services import clean_env, committed_to_end, es_docs, read_topic, wait_until
from tests.auto_trade._bots import bot_text, many_signals, signal

pytestmark = pytest.mark.slow  # runs, kills and restarts executor processes

ROUNDS = 120  # 1,440 signals: the process is still busy when it is killed


def _expected(bot_path: Path, folder: Path, signals: list) -> dict[str, Event]:
    """The events an executor of the same bot makes of ``signals``, in process, uninterrupted, each
    candle's signals in the bot's decision order."""
    bot = load_bot(bot_path)
    events: list[Event] = []
    executor = Executor(
        bot, bot_broker(bot, folder), executor_state_path(folder, bot), events.append, lambda: None
    )

    async def run() -> None:
        await executor.start()
        # a candle's signals in the bot's decision order, as the process decides them from any partition
        for event in sorted(signals, key=lambda s: (s.signal.candle_open_time_ms, executor.decision_key(s))):
            await executor.handle(event)

    asyncio.run(run())
    return {event.event_id: event for event in events}


def test_signals_are_executed_once_across_a_sigkill_and_restart(pipeline: Settings, tmp_path: Path) -> None:
    name = f"{pipeline.kafka.topic_prefix}-bot"
    bot_path = tmp_path / "bot.toml"
    bot_path.write_text(bot_text("[protections]\nmax_open_positions = 2\n", name=name))
    signals = many_signals(ROUNDS)
    bad = signal(1, "entry_long", 0.5, symbol="DOGEUSDT")  # a followed run, a symbol the bot does not trade
    expected = _expected(bot_path, tmp_path / "reference", signals)
    kinds = Counter(type(e).__name__ for e in expected.values())
    assert kinds["TradeEvent"] > 100 and kinds["LockEvent"] > 10  # trades, and locks of max_open_positions

    with EventProducer(pipeline.kafka) as producer:
        producer.send_many([*signals[:50], bad, *signals[50:]])

    state_dir = tmp_path / "state"
    env = clean_env(
        CRYPTOFLOW_KAFKA__TOPIC_PREFIX=pipeline.kafka.topic_prefix,
        CRYPTOFLOW_ELASTICSEARCH__INDEX_PREFIX=pipeline.elasticsearch.index_prefix,
        CRYPTOFLOW_STACK__HOME=str(tmp_path / "home"),
    )
    children = Supervisor(tmp_path / "logs", env=env, cwd=tmp_path)
    command = [
        sys.executable, "-m", "cryptoflow", "execute", "--bot", str(bot_path), "--state-dir", str(state_dir),
        "--from-beginning",
    ]  # fmt: skip
    try:
        children.start_command("first", command)
        wait_until(
            lambda: children.log("first").count("ENTRY ") >= 25,
            120,
            "25 entries",
            every_s=0.01,
            watching=children,
        )
        children.kill("first")  # SIGKILL midway: no chance to save or commit anything
        entries_before = children.log("first").count("ENTRY ")
        assert entries_before < kinds["TradeEvent"] / 2, "the first process was not killed midway"

        children.start_command("second", command)
        wait_until(lambda: "joining group" in children.log("second"), 60, "the restart", watching=children)
        twin = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
        assert twin.returncode == 2 and "another executor runs with the state" in twin.stderr  # one per bot
        group = f"{pipeline.kafka.topic_prefix}.execute.{name}"
        wait_until(
            lambda: committed_to_end(pipeline, group, ["signals"]), 180, "every signal", watching=children
        )
        code = children.stop("second", timeout_s=30)["second"]
        second = children.log("second")
    finally:
        children.kill()

    assert code == 0, second[-3000:]
    assert "resumed from" in second
    assert "trades closed" in second and "open positions" in second  # the summary at SIGTERM

    published = [decode(m.value()) for m in read_topic(pipeline, "trades", expected=None)]
    by_id: dict[str, bytes] = {}
    for event in published:
        # an event published again (the fill of a signal whose state the kill lost) is the same event
        assert by_id.setdefault(event.event_id, encode(event)) == encode(event)
    assert by_id == {eid: encode(event) for eid, event in expected.items()}
    # every order once: one trade leg per client order id, each signal ordered at most once
    legs = [e for e in expected.values() if isinstance(e, TradeEvent)]
    order_ids = [leg.trade.client_order_id for leg in legs]
    assert len(order_ids) == len(set(order_ids))

    (letter,) = read_dead_letters(pipeline.kafka)
    assert letter.category == "unknown_symbol" and "DOGEUSDT" in letter.reason
    assert decode(letter.value).event_id == bad.event_id

    # the sink indexes the locks into their own index, the trades into theirs
    Sink(pipeline, SinkOptions(once=True)).run()
    locks = {eid for eid, e in expected.items() if isinstance(e, LockEvent)}
    assert set(es_docs(pipeline, "locks")) == locks
    assert set(es_docs(pipeline, "trades")) == {leg.event_id for leg in legs}
    lock_doc = es_docs(pipeline, "locks")[next(iter(locks))]
    assert lock_doc == json.loads(encode(expected[lock_doc["event_id"]]))
