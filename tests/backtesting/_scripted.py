"""A strategy whose signals a test writes into the candles' volume, one bit per rule, so that a
hand-built case says exactly on which candle each strategy enters and exits.

``Scripted(bit=1)`` enters long on candles whose volume has bit 1 set, exits long on bit 2, enters
short on bit 4, exits short on bit 8; ``bit=16`` reads the next four bits, and so on. No stop, no
take-profit (a test turns them on through the bot file's params).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptoflow.strategies import Strategy


class Scripted(Strategy):
    name = "scripted"
    bit: int = 1
    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None

    def _has(self, ind: Mapping[str, Any], shift: int) -> Any:
        return (ind["volume"] // (self.bit << shift)) % 2 == 1

    def entry_long(self, ind: Mapping[str, Any]) -> Any:
        return self._has(ind, 0)

    def exit_long(self, ind: Mapping[str, Any]) -> Any:
        return self._has(ind, 1)

    def entry_short(self, ind: Mapping[str, Any]) -> Any:
        return self._has(ind, 2)

    def exit_short(self, ind: Mapping[str, Any]) -> Any:
        return self._has(ind, 3)
