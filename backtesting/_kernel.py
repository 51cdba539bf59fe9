"""The compiled position loop: one symbol, one position at a time, long or short.

Fill models (``intrabar`` is the default everywhere else in the package):

``close`` (the original 2023 scripts)
    Every candle is visited in order. With a position open, only exits are checked, on the candle's
    close and filled at that close: stop-loss (close <= entry x (1 - sl) for a long), then take-profit
    (close >= entry x (1 + tp)), then trailing stop (close <= highest close since entry x (1 - trail)),
    then the exit signal, then the holding limit. Flat, only entries are checked and filled at the
    close, so no exit and entry happen on the same candle.

``intrabar`` (realistic)
    Signals are read on a candle's close and filled at the next candle's open. Stops and take-profits
    trigger on the candle's high/low from the entry candle on, filled at their level (or at the open
    when the candle gaps through it). When one candle touches both the stop and the take-profit we
    cannot know which came first and assume the stop (pessimistic). The trailing level follows the
    best high (long) / low (short) of the candles *before* the current one. Exit signals and the
    holding limit close at the next open; an entry signal on the same close re-enters right after.

Accounting: a position uses ``fraction`` of the equity times ``leverage`` as notional; the fee is
``fee_rate`` of the notional on each side; slippage moves every fill against us by ``slippage_rate``.
Equity is marked to market on every close. When the equity falls to zero the account stops trading.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cryptoflow.strategies import END, HOLD, SIGNAL, STOP, TAKE, TRAIL, exit_on_close

__all__ = ["protective_exit", "simulate"]


@njit(cache=True, nogil=True)
def _record_exit(
    trades: np.ndarray,
    row: int,
    side: int,
    entry_idx: int,
    exit_idx: int,
    entry_price: float,
    exit_price: float,
    reason: int,
    qty: float,
    entry_fee: float,
    slip: float,
    fee: float,
) -> float:
    """Write the trade closed at ``exit_price`` (before slippage) into ``trades[row]``; returns the cash it
    adds back: gross PnL less the exit fee."""
    px = exit_price * (1.0 - slip * side)
    gross = side * qty * (px - entry_price)
    exit_fee = qty * px * fee
    trades[row, 0] = side
    trades[row, 1] = entry_idx
    trades[row, 2] = exit_idx
    trades[row, 3] = entry_price
    trades[row, 4] = px
    trades[row, 5] = reason
    trades[row, 6] = qty
    trades[row, 7] = gross - entry_fee - exit_fee
    trades[row, 8] = entry_fee + exit_fee
    return gross - exit_fee


@njit(cache=True, nogil=True)
def simulate(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    entry_long: np.ndarray,
    entry_short: np.ndarray,
    exit_long: np.ndarray,
    exit_short: np.ndarray,
    params: np.ndarray,
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Run the loop.

    ``entry_long``, ``entry_short``, ``exit_long`` and ``exit_short`` are boolean arrays of length n (the
    strategy's :class:`~cryptoflow.strategies.Signals`, passed as they are: no (4, n) copy).
    ``params`` holds, in order: intrabar (0/1), stop-loss, take-profit, trailing (fractions, 0 = off),
    max holding candles (0 = off), fee rate, slippage rate, fraction, leverage, cash, close at end (0/1).

    Returns ``(trades, n_trades, equity, open_position)``: ``trades`` is a (n_trades_max, 9) float
    array with columns side (+1/-1), entry index, exit index, entry price, exit price, reason code,
    quantity, pnl, fees; ``open_position`` is (side, entry index, entry price, quantity, entry fee) or
    side 0 when flat.
    """
    n = close.shape[0]
    intrabar = params[0] > 0.5
    sl, tp, trail = params[1], params[2], params[3]
    max_hold = int(params[4])
    fee, slip, fraction, leverage = params[5], params[6], params[7], params[8]
    cash = params[9]
    close_at_end = params[10] > 0.5

    # every trade has its own entry, and an entry needs an entry signal on its own candle: room for that
    # many (a million candles would otherwise reserve 72 MB for a thousand trades)
    entries = 0
    for i in range(n):
        if entry_long[i] or entry_short[i]:
            entries += 1
    trades = np.empty((entries + 1, 9))
    n_trades = 0
    equity = np.empty(n)

    side = 0
    entry_idx = 0
    entry_price = 0.0
    qty = 0.0
    entry_fee = 0.0
    extreme = 0.0
    pending_entry = 0
    pending_exit = 0  # reason code + 1, 0 = none
    alive = cash > 0.0

    for i in range(n):
        exit_price = 0.0
        reason = -1
        if intrabar:
            o = open_[i]
            if side != 0 and pending_exit != 0:
                exit_price = o
                reason = pending_exit - 1
            pending_exit = 0
            if reason >= 0:
                # close the position at this open
                cash += _record_exit(
                    trades,
                    n_trades,
                    side,
                    entry_idx,
                    i,
                    entry_price,
                    exit_price,
                    reason,
                    qty,
                    entry_fee,
                    slip,
                    fee,
                )
                n_trades += 1
                side = 0
                reason = -1
                if cash <= 0.0:
                    cash = 0.0
                    alive = False
            if side == 0 and pending_entry != 0 and alive:
                side = pending_entry
                entry_idx = i
                entry_price = o * (1.0 + slip * side)
                notional = cash * fraction * leverage
                qty = notional / entry_price
                entry_fee = notional * fee
                cash -= entry_fee
                extreme = entry_price
            pending_entry = 0
            if side != 0:
                h = high[i]
                lo = low[i]
                if side == 1:
                    stop = entry_price * (1.0 - sl) if sl > 0.0 else -1.0
                    stop_reason = STOP
                    if trail > 0.0:
                        trailing = extreme * (1.0 - trail)
                        if trailing > stop:
                            stop = trailing
                            stop_reason = TRAIL
                    if stop > 0.0 and lo <= stop:
                        exit_price = o if o <= stop else stop
                        reason = stop_reason
                    elif tp > 0.0 and h >= entry_price * (1.0 + tp):
                        target = entry_price * (1.0 + tp)
                        exit_price = o if o >= target else target
                        reason = TAKE
                    elif h > extreme:
                        extreme = h
                else:
                    stop = entry_price * (1.0 + sl) if sl > 0.0 else np.inf
                    stop_reason = STOP
                    if trail > 0.0:
                        trailing = extreme * (1.0 + trail)
                        if trailing < stop:
                            stop = trailing
                            stop_reason = TRAIL
                    if h >= stop:
                        exit_price = o if o >= stop else stop
                        reason = stop_reason
                    elif tp > 0.0 and lo <= entry_price * (1.0 - tp):
                        target = entry_price * (1.0 - tp)
                        exit_price = o if o <= target else target
                        reason = TAKE
                    elif lo < extreme:
                        extreme = lo
        else:
            c = close[i]
            if side != 0:
                exit_signal = exit_long[i] if side == 1 else exit_short[i]
                reason, extreme = exit_on_close(
                    side, c, entry_price, extreme, sl, tp, trail, exit_signal, i - entry_idx, max_hold
                )
                exit_price = c
            elif alive:
                if entry_long[i]:
                    side = 1
                elif entry_short[i]:
                    side = -1
                if side != 0:
                    entry_idx = i
                    entry_price = c * (1.0 + slip * side)
                    notional = cash * fraction * leverage
                    qty = notional / entry_price
                    entry_fee = notional * fee
                    cash -= entry_fee
                    extreme = entry_price

        if reason >= 0:
            cash += _record_exit(
                trades,
                n_trades,
                side,
                entry_idx,
                i,
                entry_price,
                exit_price,
                reason,
                qty,
                entry_fee,
                slip,
                fee,
            )
            n_trades += 1
            side = 0
            if cash <= 0.0:
                cash = 0.0
                alive = False

        if intrabar and i + 1 < n:
            # decisions on this close, filled at the next open
            if side == 1 and (exit_long[i] or (max_hold > 0 and i + 1 - entry_idx >= max_hold)):
                pending_exit = (SIGNAL if exit_long[i] else HOLD) + 1
            elif side == -1 and (exit_short[i] or (max_hold > 0 and i + 1 - entry_idx >= max_hold)):
                pending_exit = (SIGNAL if exit_short[i] else HOLD) + 1
            if (side == 0 or pending_exit != 0) and alive:
                if entry_long[i]:
                    pending_entry = 1
                elif entry_short[i]:
                    pending_entry = -1

        if side != 0:
            equity[i] = cash + side * qty * (close[i] - entry_price)
        else:
            equity[i] = cash

    open_position = np.zeros(5)
    if side != 0 and close_at_end:
        cash += _record_exit(
            trades,
            n_trades,
            side,
            entry_idx,
            n - 1,
            entry_price,
            close[n - 1],
            END,
            qty,
            entry_fee,
            slip,
            fee,
        )
        n_trades += 1
        equity[n - 1] = cash
        side = 0
    if side != 0:
        open_position[0] = side
        open_position[1] = entry_idx
        open_position[2] = entry_price
        open_position[3] = qty
        open_position[4] = entry_fee
    return trades, n_trades, equity, open_position


@njit(cache=True, nogil=True)
def protective_exit(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    start: int,
    side: int,
    stop: float,
    take: float,
) -> tuple[int, float, int]:
    """Where an exchange's stop-loss and take-profit orders close a position, as the fake exchange
    triggers them (``cryptoflow.testing.fake_binance``: ``candle_path`` and ``OrderDesk``).

    The orders rest from candle ``start`` on (the one after the entry's candle); ``stop`` and ``take``
    are their trigger prices (0 = no such order), ``side`` the position's (+1 long, -1 short). Candle
    by candle the price jumps from the last close to the open (a gap: an order it jumps over fills at
    the open), then moves open -> low -> high -> close for a rising (or flat) candle and open -> high ->
    low -> close for a falling one; the first trigger on that path fills at its trigger price.

    Returns ``(candle, price, reason)`` with ``reason`` :data:`~cryptoflow.strategies.STOP` or
    :data:`~cryptoflow.strategies.TAKE`, or ``(-1, 0.0, -1)`` when neither triggers.
    """
    has_stop = stop > 0.0
    has_take = take > 0.0
    for i in range(start, close.shape[0]):
        o = open_[i]
        # the gap from the last close: an order the open jumped over fills at the open
        if side == 1:
            if has_stop and o <= stop:
                return i, o, STOP
            if has_take and o >= take:
                return i, o, TAKE
        else:
            if has_stop and o >= stop:
                return i, o, STOP
            if has_take and o <= take:
                return i, o, TAKE
        rising = close[i] >= o
        # the first leg goes to the low for a rising candle, to the high for a falling one
        low_first = rising
        for leg in range(2):
            to_low = low_first if leg == 0 else not low_first
            if to_low:
                if side == 1 and has_stop and low[i] <= stop:
                    return i, stop, STOP
                if side == -1 and has_take and low[i] <= take:
                    return i, take, TAKE
            else:
                if side == 1 and has_take and high[i] >= take:
                    return i, take, TAKE
                if side == -1 and has_stop and high[i] >= stop:
                    return i, stop, STOP
    return -1, 0.0, -1
