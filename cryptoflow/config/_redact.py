"""Secrets out of everything a person reads: one masking function, and a logging filter built on it.

Two kinds of secrets are masked: the password (or token) inside a URL (``http://elastic:***@host:9200``),
wherever it appears in a text, and the values of secret settings, which :func:`load_settings` registers
with :func:`register_secret` so that they are masked even where no URL gives them away (a library's
debug line, an exception's message).
"""

from __future__ import annotations

import logging
import re
import threading

__all__ = ["RedactingFilter", "mask_credentials", "register_secret"]

# scheme://userinfo@ : the userinfo stops at whitespace, quotes, brackets and commas (lists of URLs), so
# that a secret is masked whole; a path holding an '@' is masked too, which errs on the safe side.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-_]*://)(?P<userinfo>[^\s@'\"<>,()\[\]{}]+)@")
_MIN_SECRET = 4  # shorter values would mask ordinary words
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask ``value`` (a password, key or token) from now on wherever :func:`mask_credentials` runs."""
    if value and len(value) >= _MIN_SECRET:
        with _lock:
            _secrets.add(value)


def _mask_userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match["userinfo"].partition(":")
    return f"{match['scheme']}{user}:***@" if colon else f"{match['scheme']}***@"


def mask_credentials(text: str) -> str:
    """``text`` with the credentials inside URLs and every registered secret replaced by ``***``.

    >>> mask_credentials("GET http://elastic:hunter2@es:9200/_bulk failed")
    'GET http://elastic:***@es:9200/_bulk failed'
    >>> mask_credentials("https://token@example.com")
    'https://***@example.com'
    """
    if "://" in text:
        text = _URL_USERINFO.sub(_mask_userinfo, text)
    if _secrets:
        with _lock:
            secrets = sorted(_secrets, key=len, reverse=True)  # a secret containing another goes first
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """A handler filter: every record's message, traceback and stack go through :func:`mask_credentials`.

    Add it to a handler (not a logger) so that it sees the records of every library's loggers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_credentials(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_credentials(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_credentials(record.stack_info)
        return True
