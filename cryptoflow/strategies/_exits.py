"""Exit rules shared by the backtester's ``close`` fill model and live trading (``auto_trade``).

One compiled function decides, on a closed candle, whether an open position exits and why; the
backtester's kernel calls it for every candle of a backtest and live trading for every candle as it
closes, so the two cannot drift apart. It lives with the strategies, which both sides import, so
neither application imports the other.
"""

from __future__ import annotations

from numba import njit

__all__ = ["END", "HOLD", "REASONS", "SIGNAL", "STOP", "TAKE", "TRAIL", "exit_on_close"]

REASONS = ("stop_loss", "take_profit", "signal", "end", "trailing_stop", "max_holding")
"""Why a position exits, by code: the exit rules and the backtester's kernel return an index into this."""
STOP, TAKE, SIGNAL, END, TRAIL, HOLD = range(len(REASONS))  # the codes, by name


@njit(cache=True, nogil=True)
def exit_on_close(
    side: int,
    close: float,
    entry_price: float,
    extreme: float,
    sl: float,
    tp: float,
    trail: float,
    exit_signal: bool,
    held: int,
    max_hold: int,
) -> tuple[int, float]:
    """Exit decision for an open position on a candle's close (``close`` fill model).

    Checked in order: stop-loss, take-profit, trailing stop (from the best close since entry), the
    strategy's exit signal, the holding limit. ``side`` is +1 (long) or -1 (short); ``sl``, ``tp``,
    ``trail`` are fractions of the entry price (0 = off); ``held`` counts candles since the entry
    candle; ``max_hold`` 0 = off. Returns ``(reason, extreme)``: the index into :data:`REASONS` or -1
    to stay in, and the updated best close (only moved when the position stays open).
    """
    if side == 1:
        if sl > 0.0 and close <= entry_price * (1.0 - sl):
            return STOP, extreme
        if tp > 0.0 and close >= entry_price * (1.0 + tp):
            return TAKE, extreme
        if trail > 0.0 and close <= extreme * (1.0 - trail):
            return TRAIL, extreme
        if exit_signal:
            return SIGNAL, extreme
        if max_hold > 0 and held >= max_hold:
            return HOLD, extreme
        return -1, close if close > extreme else extreme
    if sl > 0.0 and close >= entry_price * (1.0 + sl):
        return STOP, extreme
    if tp > 0.0 and close <= entry_price * (1.0 - tp):
        return TAKE, extreme
    if trail > 0.0 and close >= extreme * (1.0 + trail):
        return TRAIL, extreme
    if exit_signal:
        return SIGNAL, extreme
    if max_hold > 0 and held >= max_hold:
        return HOLD, extreme
    return -1, close if close < extreme else extreme
