"""What every benchmark does with its result: print it as JSON and, with ``--json PATH``, write it there.

>>> from benchmarks._output import emit_json
>>> emit_json({"ours_1m_s": 0.05}, args.json)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["emit_json"]


def emit_json(result: dict[str, Any], path: Path | None) -> str:
    """Print ``result`` as indented JSON and write it (with a final newline) to ``path`` when given,
    creating its folder; returns the text."""
    text = json.dumps(result, indent=2)
    print(text)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    return text
