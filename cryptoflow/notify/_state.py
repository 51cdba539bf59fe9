"""The notices each target accepted lately, kept in a file so that a restart does not post them again."""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict
from pathlib import Path

__all__ = ["Delivered"]

log = logging.getLogger("cryptoflow.notify")


class Delivered:
    """The last ``window`` event ids each target accepted, saved to ``path`` (JSON) after every post.

    Offsets are committed after the posts of a batch; a crash between a post and the commit reads the
    batch again, and :meth:`seen` keeps what was posted from being posted twice. ``path=None`` keeps
    them in memory only. A file that cannot be read is logged and started afresh.
    """

    def __init__(self, path: Path | None, window: int) -> None:
        self.path = path
        self.window = window
        self._ids: dict[str, OrderedDict[str, None]] = {}
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                for target, ids in data["targets"].items():
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
        self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".tmp")
        data = {"version": 1, "targets": {target: list(ids) for target, ids in self._ids.items()}}
        partial.write_text(json.dumps(data), encoding="utf-8")
        os.replace(partial, self.path)  # atomic: a crash leaves the old record or the new one
