"""A worker's state survives a crash at every point of a candle's handling: before, inside or after each
state write (a half-written temp file left behind included), and before its events are delivered.
Restarted on the same state folder and given the candles again (Kafka re-delivers what was not
committed), it ends in the state of a run that never crashed, with every event delivered, and without
acting twice. State written by older versions (the broker's file and a separate engine file) still loads.
A single-process trader stopped between a fill and its record publishes the fill after its restart.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from cryptoflow.brokers import PaperBroker, StateFile, TradingConfig
from cryptoflow.candles import Candle
from cryptoflow.strategies import load_strategy
from cryptoflow.testing.fake_binance import replay_exchange
from tests._trading import HISTORY, STRATEGIES, live_candles, make_worker, run_trader

pytestmark = pytest.mark.slow  # replays candles through the fake exchange in real time, once per crash point

CANDLES = 16  # two round trips, then a position held over four candles: every kind of write
PARAMS = STRATEGIES["trail_hold"]


class _Crash(BaseException):
    """The process dies here: nothing after it runs, no handler sees it."""


class _Points:
    """Numbers every crash point as it is reached and crashes at ``target`` (never when ``None``)."""

    def __init__(self, target: int | None) -> None:
        self.target = target
        self.reached = 0
        self.where = ""

    def reach(self, where: str) -> None:
        self.reached += 1
        if self.reached == self.target:
            self.where = where
            raise _Crash(where)


class _Kafka:
    """Events emitted since the last flush are lost in a crash; flushed ones are stored."""

    def __init__(self, points: _Points) -> None:
        self.points = points
        self.pending: list = []
        self.stored: list = []

    def flush(self) -> None:
        self.points.reach("before the events are delivered")
        self.stored += self.pending
        self.pending.clear()


def _crashing_saves(monkeypatch: pytest.MonkeyPatch, points: _Points) -> None:
    original = StateFile.save

    def save(self: StateFile, document: dict) -> None:
        name = self.path.name
        points.reach(f"before writing {name}")
        if points.reached + 1 == points.target:  # dies half-way through the temp file
            tmp = self.temp
            text = json.dumps(document)
            tmp.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text[: len(text) // 2])
        points.reach(f"half-way through writing {name}")
        original(self, document)
        points.reach(f"after writing {name}")

    monkeypatch.setattr(StateFile, "save", save)


def _run(market, folder: Path, candles: list[Candle], kafka: _Kafka, crash_ok: bool) -> None:
    async def main() -> None:
        worker = make_worker(market, folder, kafka.pending, PARAMS, flush=kafka.flush)
        try:
            for candle in candles:
                await worker.handle(candle, partition=0)
        except _Crash:
            assert crash_ok
            await worker.close_session()  # the process is gone: nothing else of it runs
            kafka.pending.clear()
            return
        await worker.stop()

    asyncio.run(main())


def _state(folder: Path) -> dict:
    return json.loads((folder / "w.ETHUSDT.paper.json").read_text())


def test_a_crash_at_every_point_recovers_the_state_of_a_run_without_one(
    exchange,
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    candles = live_candles(shared_data, CANDLES)
    clean = _Points(None)
    _crashing_saves(monkeypatch, clean)
    reference = _Kafka(clean)
    _run(exchange, tmp_path / "clean", candles, reference, crash_ok=False)
    want_state = _state(tmp_path / "clean")
    want_events = {e.event_id: e for e in reference.stored}
    assert want_state["trades"] == 2 and want_state["positions"]["ETHUSDT"]["held"] == 4

    for target in range(1, clean.reached + 1):
        folder = tmp_path / f"crash-{target}"
        points = _Points(target)
        _crashing_saves(monkeypatch, points)
        kafka = _Kafka(points)
        _run(exchange, folder, candles, kafka, crash_ok=True)
        assert points.where, target
        points.target = None  # the restarted process: Kafka gives it the candles again
        _run(exchange, folder, candles, kafka, crash_ok=False)

        state = _state(folder)
        assert state == want_state, f"crash {points.where} (point {target})"
        # nothing lost, nothing invented (a fill published again has the same event id)
        assert {e.event_id for e in kafka.stored} == set(want_events), f"crash {points.where}"


def test_state_of_an_older_version_in_two_files_still_loads(
    exchange, shared_data: Path, tmp_path: Path
) -> None:
    candles = live_candles(shared_data, 6)
    first = _Kafka(_Points(None))
    _run(exchange, tmp_path / "new", candles[:4], first, crash_ok=False)
    state = _state(tmp_path / "new")
    # the same state as an older version wrote it: the engine's record in a file of its own
    old = tmp_path / "old"
    old.mkdir()
    engine = state.pop("engine")
    (old / "w.ETHUSDT.paper.json").write_text(json.dumps(state))
    (old / "w.ETHUSDT.engine.json").write_text(json.dumps(engine))

    for folder in (tmp_path / "new", old):
        kafka = _Kafka(_Points(None))
        _run(exchange, folder, candles, kafka, crash_ok=False)  # candles 0-3 again, then 4 and 5
        decided = [e.time_ms for e in kafka.stored if e.schema_name == "candle"]
        assert decided == [c.open_time for c in candles[4:]], folder.name
    assert _state(old) == _state(tmp_path / "new")
    assert not (old / "w.ETHUSDT.engine.json").exists()  # moved into the broker's file


def test_a_single_process_trader_stopped_between_a_fill_and_its_record_publishes_it_after_a_restart(
    shared_data: Path, tmp_path: Path
) -> None:
    """``cryptoflow trade`` without Kafka consumer groups: a candle that closed while it was down is not
    traded after the restart, but the fill it had made on it comes out (it was never delivered)."""
    # lockstep: the replay waits (2 s at most) for each decision, so the restart meets live candles again
    exchange = replay_exchange(shared_data, symbols=("ETHUSDT",), history=HISTORY, limit=12, lockstep=True)
    strategy = load_strategy("basic", **PARAMS)
    points = _Points(None)
    kafka = _Kafka(points)

    def flush() -> None:  # the process dies while the first fill's events are on their way
        if any(e.schema_name == "trade" for e in kafka.pending):
            points.target = points.reached + 1
        kafka.flush()

    def broker() -> PaperBroker:
        return PaperBroker(TradingConfig(cash=1_000), tmp_path / "w.paper.json")

    try:
        with pytest.raises(_Crash):
            run_trader(exchange, strategy, broker(), tmp_path, run_id="w", events=kafka.pending, flush=flush)
        lost = list(kafka.pending)
        kafka.pending.clear()
        entry = next(e for e in lost if e.schema_name == "trade")
        saved = json.loads((tmp_path / "w.paper.json").read_text())
        assert saved["positions"]["ETHUSDT"]["entry_time"] == entry.trade.entry_time_ms  # filled ...
        assert saved["engine"].get("last_decided", {}).get("ETHUSDT") != entry.trade.entry_time_ms  # ... only
        points.target = None
        run_trader(
            exchange, strategy, broker(), tmp_path, run_id="w", events=kafka.pending, flush=kafka.flush
        )
    finally:
        exchange.stop_thread()

    stored = {e.event_id: e for e in kafka.stored}
    assert [e.schema_name for e in lost] == ["candle", "signal", "trade"]
    assert {e.event_id for e in lost} <= set(stored)  # published after the restart, with the same ids
    opened = [e for e in stored.values() if e.schema_name == "trade" and e.trade.leg == "open"]
    assert [e.trade.entry_time_ms for e in opened].count(entry.trade.entry_time_ms) == 1  # entered once
