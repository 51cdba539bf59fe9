"""The stack stops exactly what it started: whole process groups, never a reused pid; the Supervisor of
child processes (demo, tests, benchmarks) stops, kills and reports them by name with their logs."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from cryptoflow.stack import ChildExited, Supervisor, _process


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


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_supervisor_stops_children_with_sigterm_and_keeps_their_logs(tmp_path: Path) -> None:
    children = Supervisor(tmp_path, owner="the test's")
    children.start_command("sleeper", _python("import time; print('up', flush=True); time.sleep(300)"))
    for _ in range(100):
        if "up" in children.log("sleeper"):
            break
        time.sleep(0.05)
    children.check()  # alive: nothing raised
    assert children.stop("sleeper", timeout_s=10) == {"sleeper": -signal.SIGTERM}
    assert children.exited() == {}  # stopped on purpose: no failure
    assert children.log("sleeper") == "up\n"
    assert "--- sleeper ---\nup" in children.logs()


def test_supervisor_kills_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    ignore = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); "
    with Supervisor(tmp_path) as children:
        children.start_command("stubborn", _python(ignore + "time.sleep(300)"))
        for _ in range(100):
            if "up" in children.log("stubborn"):
                break
            time.sleep(0.05)
        assert children.stop(timeout_s=0.5) == {"stubborn": -signal.SIGKILL}


def test_supervisor_reports_a_child_that_exited_by_name_code_and_log(tmp_path: Path) -> None:
    children = Supervisor(tmp_path, owner="the test's", env={**os.environ, "EXIT_CODE": "3"})
    children.start_command(
        "failing", _python("import os, sys; print('boom'); sys.exit(int(os.environ['EXIT_CODE']))")
    )
    children.processes["failing"].wait(timeout=30)
    assert children.exited() == {"failing": 3}
    with pytest.raises(ChildExited) as raised:
        children.check()
    assert str(raised.value) == f"the test's failing exited with code 3; see {tmp_path / 'failing.log'}"
    assert raised.value.name == "failing" and raised.value.returncode == 3
    assert children.log("failing") == "boom\n"


def test_supervisor_runs_cryptoflow_commands_and_kills_on_request(tmp_path: Path) -> None:
    children = Supervisor(tmp_path)
    children.start("version", "--help")
    assert children.processes["version"].wait(timeout=60) == 0
    assert "Usage" in children.log("version")
    children.start_command("victim", _python("import time; time.sleep(300)"))
    assert children.kill("victim") == {"victim": -signal.SIGKILL}
    assert children.exited() == {"version": 0}
