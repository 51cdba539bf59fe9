"""Optuna studies for the optimiser: storages by URL, samplers by name, a study's setup checked when
another process joins it."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cryptoflow.config import mask_credentials
from cryptoflow.errors import ConfigurationError

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage

__all__ = [
    "SAMPLERS",
    "count_trials",
    "make_sampler",
    "open_storage",
    "open_study",
]

log = logging.getLogger(__name__)

SAMPLERS = ("tpe", "nsga2", "random", "grid")
"""The search methods: Optuna's TPE and NSGA-II, random and grid (every combination)."""

_JOURNAL_PREFIX = "journal:"
_RDB_SCHEMES = ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql")


def _quiet_optuna() -> None:
    import optuna

    # Optuna logs every trial (INFO) and a failed trial's traceback (WARNING); the command reports both
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    optuna.logging.disable_propagation()


def open_storage(url: str | None) -> BaseStorage:
    """The Optuna storage ``url`` names: ``None`` (in memory), ``journal:PATH`` (Optuna's journal file,
    safe for many processes on one file system), or a database URL (``sqlite:///studies.db``,
    ``postgresql://user:pw@host/db``, ``mysql+pymysql://...``).

    Raises :class:`ConfigurationError` (credentials masked) for an unknown form, a missing driver, or a
    database or folder that cannot be reached.
    """
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from sqlalchemy.exc import SQLAlchemyError

    _quiet_optuna()
    if url is None:
        return optuna.storages.InMemoryStorage()
    shown = mask_credentials(url)
    if url.startswith(_JOURNAL_PREFIX):
        path = Path(url[len(_JOURNAL_PREFIX) :].removeprefix("//"))
        _writable_folder(path, shown)
        try:
            return JournalStorage(JournalFileBackend(str(path)))
        except OSError as exc:
            raise ConfigurationError(
                f"--storage {shown}: cannot open the journal file: {exc.strerror}"
            ) from None
    scheme = url.partition("://")[0].partition("+")[0].lower()
    if "://" not in url or scheme not in _RDB_SCHEMES:
        raise ConfigurationError(
            f"--storage {shown}: expected sqlite:///FILE.db, journal:FILE.log or a database URL "
            "(postgresql://user:password@host/db, mysql+pymysql://...)"
        )
    if scheme == "sqlite":
        _writable_folder(Path(url.partition(":///")[2] or "."), shown)
    try:
        storage = _rdb_storage(url)
        if scheme == "sqlite":
            _fast_sqlite(storage)
        return storage
    except ImportError as exc:  # Optuna's, raised from the driver's ModuleNotFoundError
        driver = getattr(exc.__cause__, "name", None) or getattr(exc, "name", None) or "its driver"
        raise ConfigurationError(
            f"--storage {shown}: the database driver {driver} is not installed; install it "
            f"(pip install {_DRIVERS.get(scheme, driver)}) or use sqlite:///FILE.db or journal:FILE.log"
        ) from None
    except SQLAlchemyError as exc:  # OperationalError and friends: the server or the file is not there
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigurationError(
            f"--storage {shown}: cannot reach the storage ({mask_credentials(reason)}); check the URL, "
            "that the server runs and that the database exists"
        ) from None


def _rdb_storage(url: str) -> BaseStorage:
    from optuna.storages import RDBStorage
    from sqlalchemy.exc import IntegrityError, OperationalError

    sqlite = url.startswith("sqlite")
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # heartbeat_interval is "experimental" since Optuna 2.9
                return RDBStorage(
                    url,
                    heartbeat_interval=30,  # a crashed process's trial fails after grace_period
                    grace_period=90,
                    engine_kwargs={"connect_args": {"timeout": 60}} if sqlite else {"pool_pre_ping": True},
                )
        except (IntegrityError, OperationalError) as exc:
            # two processes creating the tables of a new database at once: the second one to commit
            # finds them made ("already exists", a duplicate version row); opening again reads them
            racing = isinstance(exc, IntegrityError) or "already exists" in str(exc)
            if not racing or attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _fast_sqlite(storage: Any) -> None:
    """Write-ahead logging and no fsync per transaction: a trial is a dozen small transactions, each
    waiting for the disk took 200 ms a trial. A power cut may lose the last trials, never corrupt the
    file; a process crash loses nothing."""
    from sqlalchemy import event

    def pragmas(connection: Any, record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        connection.isolation_level = None  # transactions begin below, not implicitly by the driver

    def begin(connection: Any) -> None:
        # a deferred transaction that reads, then writes, fails at once when another process wrote
        # meanwhile (the lock wait does not apply); taking the write lock up front waits instead
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(storage.engine, "connect", pragmas)
    event.listen(storage.engine, "begin", begin)
    storage.engine.dispose()  # the connection made while creating the tables has not got them


_DRIVERS = {"postgresql": "'psycopg[binary]'", "mysql": "pymysql", "mariadb": "pymysql"}


def _writable_folder(path: Path, shown: str) -> None:
    folder = path.parent if path.parent != Path("") else Path(".")
    if not folder.is_dir():
        raise ConfigurationError(f"--storage {shown}: no folder {folder}; create it or give another path")
    if not os.access(folder, os.W_OK):
        raise ConfigurationError(f"--storage {shown}: cannot write in {folder}; give another path")


def make_sampler(
    name: str, seed: int | None, grid: Mapping[str, tuple[Any, ...]] | None, trials: int
) -> optuna.samplers.BaseSampler:
    """The sampler called ``name``. ``grid`` (the finite space's values, if it is finite) makes ``grid``
    and ``random`` draw distinct combinations in random order, as the optimiser always did."""
    import optuna

    if name not in SAMPLERS:
        raise ConfigurationError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    if name == "grid":
        if grid is None:
            raise ConfigurationError(
                "--sampler grid needs a finite space: give ranges a step (low..high:step) or use "
                "--sampler tpe, nsga2 or random"
            )
        return _grid_sampler(grid, seed)
    if name == "random":
        if grid is not None:
            return _grid_sampler(grid, seed)
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=min(50, max(8, trials // 5)), seed=seed)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)


def _grid_sampler(grid: Mapping[str, tuple[Any, ...]], seed: int | None) -> optuna.samplers.BaseSampler:
    import optuna

    class Grid(optuna.samplers.GridSampler):
        """Optuna's grid without its stop when the grid is done: :func:`run_trials` counts the trials
        (``Study.stop`` works only inside ``Study.optimize``)."""

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            return None

    return Grid({k: list(v) for k, v in grid.items()}, seed=seed)


def open_study(
    storage: BaseStorage,
    name: str,
    directions: Sequence[Literal["maximize", "minimize"]],
    sampler: optuna.samplers.BaseSampler,
    setup: Mapping[str, Any],
) -> optuna.Study:
    """Create the study ``name`` or join it; ``setup`` (what the trials mean: strategy, candles, space,
    losses) must equal the one it was created with, or the trials would not be comparable."""
    import optuna

    study = optuna.create_study(
        storage=storage, study_name=name, directions=directions, sampler=sampler, load_if_exists=True
    )
    before = study.user_attrs.get("cryptoflow")
    if before is None:
        study.set_user_attr("cryptoflow", dict(setup))
        return study
    changed = [key for key in sorted(set(before) | set(setup)) if before.get(key) != setup.get(key)]
    if changed:
        what = "; ".join(
            f"{key}: {_show(before.get(key))} there, {_show(setup.get(key))} here" for key in changed
        )
        raise ConfigurationError(
            f"--study {name}: this study holds a search with another setup ({what}); give another --study "
            "name, or the options it was started with"
        )
    return study


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def count_trials(study: optuna.Study, *, running: bool = True) -> int:
    """Complete trials of ``study`` (and those running somewhere, when ``running``)."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.RUNNING) if running else (TrialState.COMPLETE,)
    return len(study.get_trials(deepcopy=False, states=states))
