"""The saved objects on disk: ``*.ndjson`` files, one object per line (Kibana's export format).

The shipped file is ``dashboards/kibana/cryptoflow.ndjson``, generated from
:func:`~cryptoflow.kibana.build_objects` by ``python -m cryptoflow.kibana``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptoflow.errors import ConfigurationError

__all__ = ["default_objects_dir", "read_objects", "to_ndjson"]


def default_objects_dir() -> Path:
    """``dashboards/kibana`` of this checkout (``$KIBANA_OBJECTS_DIR`` in the Docker image)."""
    return Path(__file__).resolve().parents[2] / "dashboards" / "kibana"


def read_objects(directory: Path) -> list[dict[str, Any]]:
    """Every saved object of every ``*.ndjson`` file in ``directory`` (sorted by file name)."""
    files = sorted(directory.glob("*.ndjson"))
    if not files:
        raise ConfigurationError(f"no *.ndjson saved objects in {directory}")
    objects = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                objects.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ConfigurationError(f"{path}:{number}: not valid JSON: {exc}") from None
    return objects


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    """One object per line, keys sorted: a stable, diff-friendly file."""
    return "".join(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n" for obj in objects)
