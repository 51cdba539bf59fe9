"""Output paths, checked before the work starts: every command that writes a file or a folder asks here.

A run of minutes must not end in a traceback because its report cannot be written. Each output option
is checked (and its missing folders made) before anything is loaded or computed:

- a missing parent folder is created (``--report out/run.html`` makes ``out/``), except when the first
  missing folder would sit at the top of the file system (``--out /nonexistent/x.csv``): a new top-level
  folder is almost always a typo, and making one usually needs root anyway, so the user is asked to
  create it on purpose;
- an existing folder where a file is expected, a file where a folder is expected, a place where files
  cannot be created (``/proc``, a read-only mount, no permission) or an input file given again as an
  output are refused, naming the option and the path as typed;
- nothing is written by the check: a probe file is created and removed, an existing file is opened for
  writing without truncating it, and folders made for a path that turns out unusable are removed again.

Errors are :class:`ConfigurationError` (exit 2): the command line has to change.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from cryptoflow.errors import ConfigurationError, CryptoflowError

__all__ = ["input_file", "output_dir", "output_file", "writing"]


def input_file(path: Path, option: str | None = None) -> Path:
    """An input the command line names must exist: a path that does not is a usage error (exit 2,
    ``--data x.csv: no such file``). One that exists but cannot be read as candles is the loader's
    :class:`~cryptoflow.errors.DataError` (exit 1), which says what the file holds instead."""
    if not path.exists():
        where = f"{option} {path}" if option else str(path)
        raise ConfigurationError(f"{where}: no such file")
    return path


def _reason(exc: OSError, folder: Path) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to write in {folder}"
    if exc.errno == errno.EROFS:
        return f"{folder} is on a read-only file system"
    if exc.errno == errno.ENOENT:  # the folder exists but refuses new entries (/proc, /sys)
        return f"{folder} does not accept new files"
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device of {folder}"
    if exc.errno == errno.ENOTDIR:
        return f"{folder} is not a folder"
    return f"{exc.strerror or exc} ({folder})"


def _make_parents(folder: Path, option: str, typed: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return what was created (deepest last)."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        if current.is_symlink():  # a dangling link: mkdir would fail with a puzzling message
            raise ConfigurationError(f"{option} {typed}: {current} is a broken symbolic link")
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    if not missing:
        if not folder.is_dir():
            raise ConfigurationError(f"{option} {typed}: {folder} is a file, not a folder")
        return []
    top = missing[-1]
    if not current.is_dir():
        raise ConfigurationError(f"{option} {typed}: {current} is a file, not a folder")
    if typed.is_absolute() and top.parent == Path(top.anchor):
        raise ConfigurationError(
            f"{option} {typed}: folder {top} does not exist; missing folders of an output path are "
            "created, but not at the top of the file system, where one is most likely a typo: "
            f"check the path, or create the folder first (mkdir {top}) if you mean it"
        )
    created: list[Path] = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:  # made meanwhile by someone else
            continue
        except OSError as exc:
            _remove(created)
            raise ConfigurationError(
                f"{option} {typed}: cannot create folder {path}: {_reason(exc, path.parent)}; "
                "choose another path"
            ) from None
        created.append(path)
    return created


def _remove(created: list[Path]) -> None:
    for path in reversed(created):
        with contextlib.suppress(OSError):
            path.rmdir()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def output_file(path: Path | None, option: str, *, inputs: Iterable[Path] = ()) -> Path | None:
    """Check that ``path`` (given with ``option``, e.g. ``--report``) can be written; ``None`` passes.

    Creates missing parent folders (see the module's rules), refuses a folder, an unwritable place and
    any of ``inputs`` (the files the command reads: writing there would destroy them). An existing file
    is left as it is. Raises :class:`ConfigurationError` naming ``option`` and the path as typed.
    """
    if path is None:
        return None
    absolute = Path(os.path.abspath(path))
    for source in inputs:
        if absolute == Path(os.path.abspath(source)) or _same_file(absolute, source):
            raise ConfigurationError(
                f"{option} {path}: that is an input file of this command; writing there would replace "
                "what is being read: choose another file"
            )
    if absolute.is_dir():
        raise ConfigurationError(
            f"{option} {path}: is a folder; give a file name, e.g. {path / _example(option)}"
        )
    created = _make_parents(absolute.parent, option, path)
    try:
        if absolute.exists():
            # Open for writing without truncating (O_NONBLOCK: a FIFO without a reader fails, not hangs).
            os.close(os.open(absolute, os.O_WRONLY | os.O_NONBLOCK))
        else:
            os.close(os.open(absolute, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            absolute.unlink()
    except OSError as exc:
        _remove(created)
        if absolute.exists() and exc.errno in (errno.EACCES, errno.EPERM):
            reason = f"no permission to write {absolute}"
        else:
            reason = _reason(exc, absolute.parent)
        raise ConfigurationError(
            f"{option} {path}: cannot write there: {reason}; choose another path"
        ) from None
    return path


def output_dir(path: Path, option: str) -> Path:
    """Check that the folder ``path`` (given with ``option``, e.g. ``--state-dir``) exists or can be made,
    and that files can be created in it; make it (see the module's rules)."""
    absolute = Path(os.path.abspath(path))
    if absolute.exists() and not absolute.is_dir():
        raise ConfigurationError(f"{option} {path}: is a file; give a folder")
    created = _make_parents(absolute, option, path)
    try:
        handle, probe = tempfile.mkstemp(dir=absolute, prefix=".cryptoflow-probe-")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        _remove(created)
        raise ConfigurationError(
            f"{option} {path}: cannot write there: {_reason(exc, absolute)}; choose another folder"
        ) from None
    return path


@contextlib.contextmanager
def writing(path: Path, option: str) -> Iterator[None]:
    """Turn a failure while writing ``path`` (disk full, removed meanwhile) into one clear error."""
    try:
        yield
    except OSError as exc:
        raise CryptoflowError(
            f"{option} {path}: writing failed: {_reason(exc, Path(os.path.abspath(path)).parent)}"
        ) from None


def _example(option: str) -> str:
    return {
        "--report": "report.html",
        "--trades-json": "trades.json",
        "--trades-csv": "trades.csv",
        "--json": "results.json",
        "--done-file": "done",
    }.get(option, "candles.csv")
