"""Posting to one target: pacing, retries with :mod:`cryptoflow.retry`, and what a refusal means.

A network error, a timeout, HTTP 408, 429 and 5xx are temporary: the post is retried with exponential
backoff (or after the ``Retry-After`` the target gave: the header, or Telegram's
``parameters.retry_after``) for as long as it takes. Any other answer that is not 2xx is a refusal of
the target's settings (a revoked Slack webhook, a wrong Telegram token or chat id):
:class:`TargetRefused`, a :class:`~cryptoflow.errors.ConfigurationError`.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from cryptoflow.config import NotifyTarget, mask_credentials, register_secret
from cryptoflow.errors import ConfigurationError, TemporaryError
from cryptoflow.notify._formats import Post, url_of
from cryptoflow.retry import Backoff, retry

__all__ = ["TargetRefused", "Webhook"]

log = logging.getLogger("cryptoflow.notify")

_TEMPORARY_STATUS = frozenset({408, 425, 429})


class TargetRefused(ConfigurationError):
    """A target answered a post with a 4xx other than 408/429 (or another non-2xx that is no server
    error): its settings are wrong. The message names the target, the status and the target's reason."""


class _Unavailable(TemporaryError):
    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Webhook:
    """One target: :meth:`deliver` posts, paced by the target's ``interval_s`` and retried until the
    target accepts (or refuses).

    ``wait(seconds, retrying)`` is how it waits (the consumer keeps its group membership meanwhile and
    may raise to abandon a retry when asked to stop).
    """

    def __init__(self, target: NotifyTarget, backoff: Backoff, wait: Callable[[float, bool], None]) -> None:
        self.target = target
        self.name = target.name
        self._url = url_of(target)
        for secret in (target.bot_token, target.webhook_url):
            register_secret(secret.get_secret_value() if secret is not None else None)
        self._backoff = backoff
        self._wait = wait
        self._last_post = float("-inf")
        self.retries = 0

    def deliver(self, post: Post) -> None:
        """Post ``post``; returns once the target accepted it. Raises :class:`TargetRefused`."""
        pause = self._last_post + self.target.interval_s - time.monotonic()
        if pause > 0:
            self._wait(pause, False)
        retry(
            lambda: self._send(post),
            backoff=self._backoff,
            retry_on=_Unavailable,
            pause=self._pause,
            on_retry=self._on_retry,
            sleep=lambda seconds: self._wait(seconds, True),
        )

    def _pause(self, exc: BaseException, delay: float) -> float:
        after = getattr(exc, "retry_after_s", None)
        return delay if after is None else min(max(after, 0.0), 3600.0)

    def _on_retry(self, exc: BaseException, pause: float) -> None:
        self.retries += 1
        log.warning("notify: %s not reached (%s); retrying in %.1f s", self.name, exc, pause)

    def _send(self, post: Post) -> None:
        request = urllib.request.Request(
            self._url,
            data=json.dumps(post.body).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "cryptoflow-notify"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.target.timeout_s) as response:  # noqa: S310 - http(s) only (settings)
                response.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            body = exc.read(2000) if exc.fp is not None else b""
            reason = _reason(body) or exc.reason
            if status in _TEMPORARY_STATUS or status >= 500:
                raise _Unavailable(
                    mask_credentials(f"HTTP {status} {reason}"),
                    _retry_after(exc.headers.get("Retry-After"), body),
                ) from None
            raise TargetRefused(
                mask_credentials(
                    f"notify target {self.name!r} ({self.target.format}) refused the message: HTTP {status} "
                    f"{reason}; fix its settings (CRYPTOFLOW_NOTIFY__TARGETS or [[notify.targets]]) and run "
                    "again: nothing after the last delivered notice was committed"
                )
            ) from None
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, DNS, TLS
            raise _Unavailable(
                mask_credentials(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")
            ) from None
        finally:
            self._last_post = time.monotonic()


def _reason(body: bytes) -> str:
    """The target's own words: Telegram's ``description``, Slack's plain-text reason (``invalid_token``)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(data, dict):  # JSON without words of its own: the status line's reason says more
        return str(data.get("description") or data.get("error") or data.get("message") or "")[:200]
    return text[:200]


def _retry_after(header: str | None, body: bytes) -> float | None:
    """Seconds to wait: the ``Retry-After`` header (seconds), else Telegram's ``parameters.retry_after``."""
    if header and header.strip().isdigit():
        return float(header.strip())
    try:
        data = json.loads(body)
        after = data["parameters"]["retry_after"]
    except (ValueError, KeyError, TypeError):
        return None
    return float(after) if isinstance(after, int | float) and not isinstance(after, bool) else None
