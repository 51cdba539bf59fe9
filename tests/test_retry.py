"""The one retry policy: delays, caps, jitter, what is retried and when it stops."""

from __future__ import annotations

import asyncio
import random

import pytest

from cryptoflow.retry import Backoff, backoff_delay, retry, retry_async


def test_backoff_grows_with_jitter_up_to_its_ceiling() -> None:
    backoff = Backoff(0.5, 8.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(10)]
    ceilings = [min(8.0, 0.5 * 2**n) for n in range(10)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_delays_double_from_the_first_up_to_the_cap() -> None:
    # the broker's REST retries (0.4 s doubling to 5 s) and the download's (1 s doubling to 60 s)
    assert [backoff_delay(n, 0.4, 5.0, jitter=False) for n in range(1, 7)] == [0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert [backoff_delay(n, 1.0, 60.0, jitter=False) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_delay(10_000, 0.5, 30.0, jitter=False) == 30.0  # no overflow however long it lasts
    assert backoff_delay(1, 2.0, 1.0, jitter=False) == 2.0  # a cap below the first delay is raised to it


def test_jitter_stays_between_half_the_ceiling_and_the_ceiling() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(3, 0.5, 30.0, rng=rng) for _ in range(200)]
    assert all(1.0 <= d <= 2.0 for d in delays)
    assert max(delays) - min(delays) > 0.5  # actually spread, not a constant


def test_retry_pauses_by_the_policy_and_returns_the_first_success() -> None:
    answers: list[BaseException | str] = [OSError("down"), OSError("down"), "page"]
    pauses: list[float] = []
    told: list[tuple[str, float]] = []

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    result = retry(
        call,
        backoff=Backoff(1.0, 60.0, jitter=False),
        retry_on=OSError,
        attempts=5,
        on_retry=lambda exc, pause: told.append((str(exc), pause)),
        sleep=pauses.append,
    )
    assert result == "page"
    assert pauses == [1.0, 2.0]
    assert told == [("down", 1.0), ("down", 2.0)]


def test_retry_gives_up_after_its_attempts_with_the_last_error() -> None:
    calls: list[int] = []
    pauses: list[float] = []

    def call() -> None:
        calls.append(1)
        raise OSError(f"try {len(calls)}")

    with pytest.raises(OSError, match="try 3"):
        retry(
            call, backoff=Backoff(1.0, 60.0, jitter=False), retry_on=OSError, attempts=3, sleep=pauses.append
        )
    assert len(calls) == 3 and pauses == [1.0, 2.0]


def test_errors_not_retried_and_fatal_errors_raise_at_once() -> None:
    class Refused(OSError):
        pass

    pauses: list[float] = []
    for error, retry_on, fatal in ((ValueError("bad"), OSError, ()), (Refused("451"), OSError, Refused)):

        def call(error: BaseException = error) -> None:
            raise error

        with pytest.raises(type(error)):
            retry(call, backoff=Backoff(1.0, 2.0), retry_on=retry_on, fatal=fatal, sleep=pauses.append)
    assert pauses == []


def test_a_pause_hook_overrides_the_delay_but_the_backoff_still_advances() -> None:
    answers: list[BaseException | str] = [KeyError("now"), OSError("later"), "done"]
    pauses: list[float] = []

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    retry(
        call,
        backoff=Backoff(0.4, 5.0, jitter=False),
        retry_on=(KeyError, OSError),
        pause=lambda exc, delay: 0.0 if isinstance(exc, KeyError) else delay,
        sleep=pauses.append,
    )
    assert pauses == [0.0, 0.8]  # the second failure waits the second attempt's delay


def test_retry_async_without_a_limit_keeps_going_until_it_succeeds() -> None:
    failures = 6

    async def call() -> int:
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionError("refused")
        return 42

    backoff = Backoff(0.001, 0.002)
    assert asyncio.run(retry_async(call, backoff=backoff, retry_on=ConnectionError)) == 42
    assert backoff.attempt == 6


def test_retry_async_stops_on_its_attempts_and_on_fatal_errors() -> None:
    async def down() -> None:
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        asyncio.run(retry_async(down, backoff=Backoff(0.001, 0.001), retry_on=ConnectionError, attempts=2))
    with pytest.raises(ConnectionError):
        asyncio.run(retry_async(down, backoff=Backoff(10.0, 10.0), retry_on=Exception, fatal=ConnectionError))
