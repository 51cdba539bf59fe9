"""The paper state file under two writers: a symbol moving between workers has two savers for a moment."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from cryptoflow.brokers import StateFile

SAVES = 300


def _save_many(path: str, writer: int) -> None:
    state = StateFile(Path(path))
    for n in range(SAVES):
        state.save({"writer": writer, "n": n, "padding": "x" * 4096})


def test_two_processes_saving_one_state_file_at_once_both_finish_and_leave_a_whole_document(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run.BTCUSDT.paper.json"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_save_many, args=(str(path), w)) for w in (1, 2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)

    # a shared temp name made one writer's rename fail: FileNotFoundError, exit code 1
    assert [writer.exitcode for writer in writers] == [0, 0]
    document = json.loads(path.read_text())
    assert document["n"] == SAVES - 1 and document["writer"] in (1, 2)
    assert StateFile(path).load() == document
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
