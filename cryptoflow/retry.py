"""One retry policy for everything that talks to the outside: exponential backoff, optionally jittered.

Attempt ``n`` (1 for the first retry) waits ``d = min(max_s, initial_s * 2**(n-1))``; with jitter (the
default) a random delay between ``d/2`` and ``d`` instead ("equal jitter"), so clients that failed
together do not all come back together. The kline source and the trading worker reconnect to the
exchange with it, the Binance broker and the history download retry REST calls with it, and the sink
waits for Elasticsearch and Kafka with it.

>>> from cryptoflow.retry import Backoff, backoff_delay, retry
>>> backoff_delay(3, 0.5, 30.0, jitter=False)
2.0
>>> retry(fetch_page, backoff=Backoff(1.0, 60.0), retry_on=OSError, attempts=6)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["Backoff", "backoff_delay", "retry", "retry_async"]

_T = TypeVar("_T")
_Errors = type[BaseException] | tuple[type[BaseException], ...]
# 2**30 times any initial delay is far beyond every cap; the bound keeps the float finite
_MAX_DOUBLINGS = 30


def backoff_delay(
    attempt: int, initial_s: float, max_s: float, *, jitter: bool = True, rng: random.Random | None = None
) -> float:
    """The pause before retry number ``attempt`` (1, 2, ...), in seconds.

    initial_s: the ceiling of the first pause. max_s: the largest ceiling (raised to ``initial_s`` if
    below it). jitter: pick uniformly between half the ceiling and the ceiling (default) instead of the
    ceiling itself. rng: the random source of the jitter (tests pass a seeded one).
    """
    doublings = min(max(attempt, 1) - 1, _MAX_DOUBLINGS)
    ceiling = min(max(max_s, initial_s), initial_s * 2.0**doublings)
    if not jitter:
        return ceiling
    return ceiling / 2.0 + (rng or random).uniform(0.0, ceiling / 2.0)


class Backoff:
    """The pauses of one run of retries: each :meth:`next_delay` is :func:`backoff_delay` of the next
    attempt; :meth:`reset` (after a success) starts again from ``initial_s``.

    >>> backoff = Backoff(0.5, 8.0, jitter=False)
    >>> [backoff.next_delay() for _ in range(6)]
    [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    """

    def __init__(
        self, initial_s: float, max_s: float, rng: random.Random | None = None, *, jitter: bool = True
    ) -> None:
        self.initial_s = initial_s
        self.max_s = max(max_s, initial_s)
        self.jitter = jitter
        self.attempt = 0
        self._rng = rng

    def next_delay(self) -> float:
        """The pause before the next retry, in seconds; each call doubles the ceiling up to ``max_s``."""
        self.attempt += 1
        return backoff_delay(self.attempt, self.initial_s, self.max_s, jitter=self.jitter, rng=self._rng)

    def reset(self) -> None:
        """Back to the initial delay (after a success)."""
        self.attempt = 0


def _pause_after(
    exc: BaseException,
    tried: int,
    backoff: Backoff,
    attempts: int | None,
    pause: Callable[[BaseException, float], float] | None,
    on_retry: Callable[[BaseException, float], None] | None,
) -> float:
    """The pause before the next try, or re-raise ``exc`` when the tries are used up."""
    if attempts is not None and tried >= attempts:
        raise exc
    delay = backoff.next_delay()
    if pause is not None:
        delay = pause(exc, delay)
    if on_retry is not None:
        on_retry(exc, delay)
    return delay


def retry(
    call: Callable[[], _T],
    *,
    backoff: Backoff,
    retry_on: _Errors,
    fatal: _Errors = (),
    attempts: int | None = None,
    pause: Callable[[BaseException, float], float] | None = None,
    on_retry: Callable[[BaseException, float], None] | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> _T:
    """``call()``, called again after a pause from ``backoff`` while it raises one of ``retry_on``.

    fatal: exceptions raised at once even when ``retry_on`` covers them. attempts: calls in all
    (``None``: no limit); the last call's exception propagates. pause: ``(exception, backoff delay) ->
    pause`` for a server that says how long to wait (``Retry-After``) or an error that needs none.
    on_retry: ``(exception, pause)`` before each pause, to log it. sleep: how to wait (tests record).
    ``backoff`` starts from its first delay.
    """
    backoff.reset()
    tried = 0
    while True:
        try:
            return call()
        except fatal:
            raise
        except retry_on as exc:
            tried += 1
            sleep(_pause_after(exc, tried, backoff, attempts, pause, on_retry))


async def retry_async(
    call: Callable[[], Awaitable[_T]],
    *,
    backoff: Backoff,
    retry_on: _Errors,
    fatal: _Errors = (),
    attempts: int | None = None,
    pause: Callable[[BaseException, float], float] | None = None,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> _T:
    """:func:`retry` for a coroutine function: ``await call()``, pausing with ``asyncio.sleep``."""
    backoff.reset()
    tried = 0
    while True:
        try:
            return await call()
        except fatal:
            raise
        except retry_on as exc:
            tried += 1
            await asyncio.sleep(_pause_after(exc, tried, backoff, attempts, pause, on_retry))
