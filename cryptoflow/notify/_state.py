"""The notices each target accepted lately, kept in a file so that a restart does not post them again."""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

from cryptoflow.brokers import StateFile

__all__ = ["Delivered"]

log = logging.getLogger("cryptoflow.notify")


class Delivered:
    """The last ``window`` event ids each target accepted, saved to ``path`` (JSON, replaced atomically:
    :class:`~cryptoflow.brokers.StateFile`) by :meth:`save`, after each batch's posts.

    Offsets are committed after the posts of a batch; a crash between a post and the commit reads the
    batch again, and :meth:`seen` keeps what was posted from being posted twice. ``path=None`` keeps
    them in memory only. A file that cannot be read is logged and started afresh.
    """

    def __init__(self, path: Path | None, window: int) -> None:
        self.path = path
        self.window = window
        self._ids: dict[str, OrderedDict[str, None]] = {}
        self._file = None if path is None else StateFile(path)
        self._changed = False
        if self._file is not None:
            try:
                data = self._file.load()
                for target, ids in data.get("targets", {}).items():
                    self._ids[target] = OrderedDict.fromkeys(ids[-window:])
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("notify: %s is not a delivery record (%s); starting a new one", path, exc)

    def seen(self, target: str, event_id: str) -> bool:
        """Whether ``target`` accepted the notice of ``event_id`` lately."""
        return event_id in self._ids.get(target, {})

    def add(self, target: str, event_ids: tuple[str, ...]) -> None:
        """``target`` accepted these notices: remember them (the oldest beyond the window are forgotten)."""
        ids = self._ids.setdefault(target, OrderedDict())
        for event_id in event_ids:
            ids[event_id] = None
            ids.move_to_end(event_id)
        while len(ids) > self.window:
            ids.popitem(last=False)
        self._changed = True

    def save(self) -> None:
        """Write what was added since the last save (nothing when nothing was)."""
        if self._file is None or not self._changed:
            return
        self._file.save({"version": 1, "targets": {target: list(ids) for target, ids in self._ids.items()}})
        self._changed = False
