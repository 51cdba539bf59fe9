"""The trial loop: this process talks to the study (ask, tell), forked workers backtest.

Only this process writes to the storage, so a machine is one client of a shared study however many
cores it uses, and the workers receive a trial's parameters and send back its statistics: the candles
and indicators they read were prepared before they forked and are shared, never pickled.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from backtesting._study import count_trials

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage

__all__ = ["run_trials"]

Evaluate = Callable[[Mapping[str, Any]], Any]

_shared: list[Evaluate] = []  # what the forked workers call: set before they fork, inherited


def _evaluate_in_worker(params: Mapping[str, Any]) -> Any:
    return _shared[0](params)


def _ignore_ctrl_c() -> None:
    # Ctrl-C reaches the whole process group: the parent alone decides (fails the running trials)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _CtrlC:
    """Ctrl-C waits while the storage is written (it is raised right after), so no trial is left RUNNING.

    A handler in Python, not a blocked signal: a signal blocked in the main thread is delivered to
    another thread (the pool's), and Python runs its handler in the main thread all the same.
    """

    def __init__(self) -> None:
        self._parent = os.getpid()
        self._holding = 0
        self._pending: list[int] = []
        self._previous: Any = None

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def uninstall(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum: int, frame: Any) -> None:
        if os.getpid() != self._parent:  # a worker forked before it ignored Ctrl-C: the parent decides
            return
        if self._holding:
            self._pending.append(signum)
            return
        self._raise(signum, frame)

    def _raise(self, signum: int, frame: Any) -> None:
        if callable(self._previous):
            self._previous(signum, frame)  # the command's handler: records the signal, raises
        raise KeyboardInterrupt

    @contextmanager
    def held(self) -> Iterator[None]:
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
        if not self._holding and self._pending:
            signum = self._pending.pop()
            self._pending.clear()
            self._raise(signum, None)


class _Heartbeat:
    """Records the heartbeat of the running trials (a database storage's way to tell a crashed process's
    trial, failed after the grace period, from a running one); a no-op for other storages."""

    def __init__(self, storage: Any) -> None:
        self._storage = storage if getattr(storage, "is_heartbeat_enabled", lambda: False)() else None
        self._running: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, trial_id: int) -> None:
        if self._storage is None:
            return
        self._storage.record_heartbeat(trial_id)
        self._running.add(trial_id)
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="optuna-heartbeat", daemon=True)
            self._thread.start()

    def remove(self, trial_id: int) -> None:
        self._running.discard(trial_id)

    def _beat(self) -> None:
        assert self._storage is not None
        while not self._stop.wait(self._storage.get_heartbeat_interval()):
            for trial_id in list(self._running):
                self._storage.record_heartbeat(trial_id)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def fail_stale(self, study: optuna.Study) -> None:
        if self._storage is None:
            return
        from optuna.storages import fail_stale_trials

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "experimental"
            fail_stale_trials(study)


def run_trials(
    study: optuna.Study,
    storage: BaseStorage,
    trials: int,
    suggest: Callable[[optuna.Trial], dict[str, Any]],
    evaluate: Evaluate,
    finish: Callable[[optuna.Trial, Any], list[float]],
    *,
    jobs: int = 1,
    on_trial: Callable[[], None] | None = None,
) -> None:
    """Run trials until ``study`` holds ``trials`` complete ones, counting those of other processes.

    ``suggest(trial)`` draws a trial's parameters, ``evaluate(params)`` backtests them (in ``jobs`` forked
    workers when above 1), ``finish(trial, result)`` records the result and returns the values told to
    Optuna. A trial counts as soon as it starts; one that starts while the others already make up
    ``trials`` is dropped at once (PRUNED, never run), so the study ends with exactly ``trials`` complete
    trials. Ctrl-C fails the running trials (a resumed study runs new ones) and is raised.
    """
    from optuna.trial import TrialState

    heartbeat = _Heartbeat(storage)
    ctrl_c = _CtrlC()
    ctrl_c.install()
    running: dict[Future[Any], optuna.Trial] = {}
    pool = None
    if jobs > 1:
        _shared[:] = [evaluate]
        context = multiprocessing.get_context("fork")
        pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_ignore_ctrl_c)

    def start() -> bool:
        """Ask for a trial and start it; False when the study has its trials."""
        with ctrl_c.held():
            heartbeat.fail_stale(study)
            if count_trials(study) >= trials:
                return False
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "heartbeat is supposed to be used with optimize": it is
                trial = study.ask()
            counted = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
            if sum(1 for t in counted if t.number < trial.number) >= trials:
                study.tell(trial, state=TrialState.PRUNED)  # another process took the last place
                return False
            heartbeat.add(trial._trial_id)  # Optuna's storages address a trial by this id
            try:
                params = suggest(trial)
            except BaseException:
                study.tell(trial, state=TrialState.FAIL)
                heartbeat.remove(trial._trial_id)
                raise
            future: Future[Any] = Future()
            if pool is None:
                future.set_running_or_notify_cancel()
                running[future] = trial
            else:
                running[pool.submit(_evaluate_in_worker, params)] = trial
                return True
        try:  # in this process: Ctrl-C is not held back while the backtest runs
            future.set_result(evaluate(params))
        except Exception as exc:
            future.set_exception(exc)
        return True

    def end(future: Future[Any]) -> None:
        trial = running.pop(future)
        with ctrl_c.held():
            heartbeat.remove(trial._trial_id)
            error = future.exception()
            if error is not None:
                study.tell(trial, state=TrialState.FAIL)
                raise error
            study.tell(trial, finish(trial, future.result()))
            if on_trial is not None:  # it reads the storage: a Ctrl-C inside a transaction keeps its lock
                on_trial()

    try:
        more = True
        while more or running:
            while more and len(running) < (2 * jobs if pool is not None else 1):
                more = start()
            if running:
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    end(future)
    except BaseException:
        with ctrl_c.held():
            for future, trial in list(running.items()):
                future.cancel()
                study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            running.clear()
        raise
    finally:
        ctrl_c.uninstall()
        heartbeat.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            _shared.clear()
