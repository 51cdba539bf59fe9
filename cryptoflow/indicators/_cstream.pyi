"""Types of the compiled streaming state (``_cstream.c``)."""

from collections.abc import Callable, Mapping
from typing import Any

def configure(
    keys: tuple[str, ...],
    candle_type: type,
    prices: Callable[[Mapping[str, Any]], tuple[float, float, float, float]],
    nan_error: Callable[[object], Exception],
) -> None: ...

class State:
    def __init__(
        self,
        rsi_period: int,
        rsi_sma: bool,
        rsi_alpha: float,
        macd_alphas: tuple[float, ...],
        macd_adjust: bool,
        macd_min_periods: tuple[int, ...],
        cci_period: int,
        cci_constant: float,
    ) -> None: ...
    def update(self, candle: Any) -> dict[str, float | int]:
        """Feed one closed candle (a Candle or a mapping with open/high/low/close) and return the
        indicators as of it (NaN while warming up)."""
    def peek(self, candle: Any) -> dict[str, float | int]:
        """The indicators if ``candle`` closed now; the state is not changed."""
    @property
    def count(self) -> int:
        """Closed candles fed so far."""
    @property
    def _gains(self) -> list[float]: ...
    @property
    def _losses(self) -> list[float]: ...
    @property
    def _typical(self) -> list[float]: ...
