"""Start detached service processes and stop exactly those again, through pid files (never by name)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ManagedProcess:
    """A process this module started: its pid, its kernel start time (guards against pid reuse)."""

    name: str
    pid: int
    start_ticks: int
    pid_file: Path
    log_file: Path


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime) counts from the end of the command name, which may contain spaces.
    return int(stat.rsplit(")", 1)[1].split()[19])


def start(
    name: str,
    command: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    log_file: Path,
    pid_file: Path,
    user: tuple[int, int] | None = None,
) -> ManagedProcess:
    """Launch ``command`` in its own session (so its whole process group can be stopped) and record it."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user[0] if user else None,
            group=user[1] if user else None,
            extra_groups=[] if user else None,
        )
    ticks = _start_ticks(process.pid) or 0
    pid_file.write_text(json.dumps({"name": name, "pid": process.pid, "start_ticks": ticks}))
    return ManagedProcess(name, process.pid, ticks, pid_file, log_file)


def read(pid_file: Path, log_file: Path) -> ManagedProcess | None:
    """The process recorded in ``pid_file`` if it is still that very process, else ``None``."""
    try:
        record = json.loads(pid_file.read_text())
    except (OSError, ValueError):
        return None
    pid, ticks = int(record["pid"]), int(record["start_ticks"])
    if _start_ticks(pid) != ticks or _is_zombie(pid):
        return None
    return ManagedProcess(str(record["name"]), pid, ticks, pid_file, log_file)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _group_alive(pgid: int) -> bool:
    _reap(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Only zombies left (children of another parent that has not reaped them yet) count as gone.
    return any(
        not _is_zombie(int(entry.name))
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _pgid_of(int(entry.name)) == pgid
    )


def _pgid_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop(process: ManagedProcess, timeout_s: float = 30.0) -> bool:
    """SIGTERM the process group, wait up to ``timeout_s``, then SIGKILL. Returns False if it was killed."""
    graceful = True
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        process.pid_file.unlink(missing_ok=True)
        return True
    deadline = time.monotonic() + timeout_s
    while _group_alive(process.pid):
        if time.monotonic() > deadline:
            graceful = False
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.5)
            _reap(process.pid)
            break
        time.sleep(0.2)
    process.pid_file.unlink(missing_ok=True)
    return graceful
