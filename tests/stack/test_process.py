"""The stack stops exactly what it started: whole process groups, never a reused pid."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from cryptoflow.stack import _process


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    # A launcher that starts a child and ignores SIGTERM itself, like a JVM wrapper that hangs.
    script = "trap '' TERM; sleep 300 & echo $! > child.pid; wait"
    process = _process.start(
        "demo",
        ["bash", "-c", script],
        env=dict(os.environ),
        cwd=tmp_path,
        log_file=tmp_path / "demo.log",
        pid_file=tmp_path / "demo.pid",
    )
    for _ in range(100):
        if (tmp_path / "child.pid").exists() and (tmp_path / "child.pid").read_text().strip():
            break
        time.sleep(0.05)
    child = int((tmp_path / "child.pid").read_text())
    assert _process.read(tmp_path / "demo.pid", tmp_path / "demo.log") == process
    graceful = _process.stop(process, timeout_s=1.0)
    assert graceful is False  # the launcher ignored SIGTERM and had to be killed
    assert not _alive(process.pid) and not _alive(child)
    assert not (tmp_path / "demo.pid").exists()


def test_a_pid_file_of_another_process_is_ignored(tmp_path: Path) -> None:
    # Our own pid with a wrong start time: what a reused pid looks like. It must never be stopped.
    pid_file = tmp_path / "stale.pid"
    pid_file.write_text(json.dumps({"name": "stale", "pid": os.getpid(), "start_ticks": 1}))
    assert _process.read(pid_file, tmp_path / "stale.log") is None


def test_missing_or_corrupt_pid_file_means_not_running(tmp_path: Path) -> None:
    assert _process.read(tmp_path / "none.pid", tmp_path / "none.log") is None
    (tmp_path / "bad.pid").write_text("not json")
    assert _process.read(tmp_path / "bad.pid", tmp_path / "bad.log") is None
