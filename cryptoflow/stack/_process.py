"""Child processes: start one with its own log file, check that it is alive, stop it (SIGTERM, then SIGKILL
after a grace period) and read its log. One module for every caller: the local stack's detached services
(recorded in pid files, never stopped by name), the demo's helpers, the tests' and the benchmarks' chains.

Every child runs in its own session, so Ctrl-C in a terminal reaches the parent only (which stops its
children in its own order), and stopping a child ends its whole process group.

Example::

    from cryptoflow.stack import Supervisor

    with Supervisor(Path("out/logs")) as children:
        children.start("sink", "sink", "--once")  # python -m cryptoflow sink --once > out/logs/sink.log
        children.check()  # ChildExited if it died
        children.stop("sink")  # {"sink": 0}
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cryptoflow.errors import TemporaryError

__all__ = ["ChildExited", "ManagedProcess", "Supervisor", "read", "start", "stop"]

log = logging.getLogger(__name__)


def _spawn(
    command: Sequence[str],
    *,
    log_file: Path,
    env: Mapping[str, str],
    cwd: Path | None = None,
    user: tuple[int, int] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in a session of its own, stdin closed, stdout and stderr appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user[0] if user else None,
            group=user[1] if user else None,
            extra_groups=[] if user else None,
        )


def _end_groups(groups: Mapping[int, Callable[[], bool]], timeout_s: float) -> set[int]:
    """SIGTERM each process group (keyed by its leader's pid, with a test of whether it still runs), wait
    up to ``timeout_s`` for all of them, then SIGKILL those left. Returns the groups that had to be killed."""
    left = dict(groups)
    for pgid in list(left):
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            del left[pgid]
    deadline = time.monotonic() + timeout_s
    while left:
        left = {pgid: alive for pgid, alive in left.items() if alive()}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for pgid in left:
        log.debug("process group %d ignored SIGTERM for %.0f s: killing it", pgid, timeout_s)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return set(left)


class ChildExited(TemporaryError):
    """A supervised child exited while it was meant to run; its log says why."""

    def __init__(self, message: str, name: str, returncode: int, log_file: Path) -> None:
        super().__init__(message)
        self.name, self.returncode, self.log_file = name, returncode, log_file


class Supervisor:
    """The child processes of this one, each logging to ``<log_dir>/<name>.log``.

    ``env`` is the children's environment (default: this process's); ``start(..., env=...)`` adds to it.
    ``owner`` begins the message of :class:`ChildExited` (``"the demo's"`` -> "the demo's sink exited
    with code 1; see out/demo/logs/sink.log"). Leaving the ``with`` block stops every child still running.
    """

    def __init__(
        self,
        log_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        owner: str = "",
    ) -> None:
        self.log_dir, self.cwd, self.owner = Path(log_dir), cwd, owner
        self.env = dict(os.environ if env is None else env)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._ended: set[str] = set()  # stopped or killed on purpose: their exit is no failure

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def log_file(self, name: str) -> Path:
        """Where the child ``name`` writes its output."""
        return self.log_dir / f"{name}.log"

    def start(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start ``python -m cryptoflow <args>`` as ``name``."""
        return self.start_command(name, [sys.executable, "-m", "cryptoflow", *args], env=env)

    def start_command(
        self, name: str, command: Sequence[str], *, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start any ``command`` as ``name``, with the supervisor's environment plus ``env``."""
        process = _spawn(command, log_file=self.log_file(name), env={**self.env, **(env or {})}, cwd=self.cwd)
        self.processes[name] = process
        self._ended.discard(name)
        return process

    def exited(self) -> dict[str, int]:
        """The children that exited although nobody stopped them, with their exit codes."""
        return {
            name: code
            for name, process in self.processes.items()
            if (code := process.poll()) is not None and name not in self._ended
        }

    def check(self) -> None:
        """Raise :class:`ChildExited` for the first child that exited although nobody stopped it."""
        for name, code in self.exited().items():
            owner, log_file = f"{self.owner} " if self.owner else "", self.log_file(name)
            raise ChildExited(f"{owner}{name} exited with code {code}; see {log_file}", name, code, log_file)

    def stop(self, *names: str, timeout_s: float = 20.0) -> dict[str, int]:
        """SIGTERM the named children (all when none is named) at once, give them ``timeout_s`` together to
        exit, SIGKILL those left. Returns their exit codes (negative: the signal that ended them)."""
        chosen = {name: p for name, p in self.processes.items() if not names or name in names}
        self._ended.update(chosen)
        running = {p.pid: (lambda p=p: p.poll() is None) for p in chosen.values() if p.poll() is None}
        _end_groups(running, timeout_s)
        return {name: process.wait() for name, process in chosen.items()}

    def kill(self, *names: str) -> dict[str, int]:
        """SIGKILL the named children (all when none is named): no chance to clean up. Returns their exit
        codes."""
        chosen = {name: p for name, p in self.processes.items() if not names or name in names}
        self._ended.update(chosen)
        for process in chosen.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:  # it exited meanwhile
                    pass
        return {name: process.wait() for name, process in chosen.items()}

    def log(self, name: str) -> str:
        """What the child ``name`` has written so far."""
        try:
            return self.log_file(name).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def logs(self, tail_chars: int = 2500) -> str:
        """The end of every child's log, each under a ``--- name ---`` line (for a failure message)."""
        return "\n".join(f"--- {name} ---\n{self.log(name)[-tail_chars:]}" for name in self.processes)


# -- detached services, recorded in pid files (the local stack) -------------------------------------------


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
    process = _spawn(command, log_file=log_file, env=env, cwd=cwd, user=user)
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
    killed = _end_groups({process.pid: lambda: _group_alive(process.pid)}, timeout_s)
    if killed:
        time.sleep(0.5)
        _reap(process.pid)
    process.pid_file.unlink(missing_ok=True)
    return not killed
