"""How long Elasticsearch or Kafka has been unavailable, and when the sink gives up (``--give-up-after``)."""

from __future__ import annotations

import time

from cryptoflow.errors import TemporaryError

__all__ = ["Outage"]


class Outage:
    """The current outage, if any: when it started, and whether it lasted longer than ``give_up_after_s``
    (``None``: wait as long as it takes)."""

    def __init__(self, give_up_after_s: float | None) -> None:
        self.give_up_after_s = give_up_after_s
        self.since: float | None = None  # start of the current outage

    def begin(self) -> None:
        """An outage (or a wait for the services) starts now."""
        self.since = time.monotonic()

    def end(self) -> None:
        """The services answered: no outage."""
        self.since = None

    def attempt_timeout(self, longest_s: float) -> float:
        """How long one attempt may wait: ``longest_s``, or less when giving up comes sooner."""
        if self.give_up_after_s is None:
            return longest_s
        since = self.since if self.since is not None else time.monotonic()
        return max(0.5, min(longest_s, since + self.give_up_after_s - time.monotonic()))

    def give_up_if_too_long(self, exc: BaseException) -> None:
        """Note the start of an outage; raise :class:`~cryptoflow.errors.TemporaryError` when it lasted
        longer than ``give_up_after_s``."""
        now = time.monotonic()
        if self.since is None:
            self.since = now
        limit = self.give_up_after_s
        if limit is not None and now - self.since >= limit:
            raise TemporaryError(f"gave up after {limit:g} s of waiting (--give-up-after): {exc}") from None
