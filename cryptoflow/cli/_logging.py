"""Logging of the ``cryptoflow`` command, set up in one place: secrets masked in every line, and no
library's traceback on the terminal for what is an ordinary outage (one line with the reason instead);
``--verbose`` shows the libraries' retries and requests too."""

from __future__ import annotations

import logging

from cryptoflow.config import RedactingFilter

__all__ = ["configure_logging"]

_OWN = ("cryptoflow", "auto_trade", "realtime_indicator", "backtesting", "backtesting_trade", "benchmarks")

# Libraries that log every retry of theirs as a warning (elastic_transport: a traceback per attempt and a
# line per node put on timeout); our own code logs one line per backoff step with the reason instead.
_CHATTY = ("elastic_transport",)


class _OneLineForLibraries(logging.Filter):
    """A library's record with a traceback becomes one line ending in the exception's type and message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and not record.name.startswith(_OWN):
            error = record.exc_info[1]
            record.msg, record.args = f"{record.getMessage()}: {type(error).__name__}: {error}", None
            record.exc_info, record.exc_text = None, None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr from ``level`` on (``--verbose`` or ``CRYPTOFLOW_LOG_LEVEL=DEBUG``: DEBUG), every line
    through the secret masking. Called again, it only changes the level."""
    root = logging.getLogger()
    if not any(isinstance(f, RedactingFilter) for h in root.handlers for f in h.filters):
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        for handler in root.handlers:
            handler.addFilter(_OneLineForLibraries())
            handler.addFilter(RedactingFilter())  # last: it also masks what the filters before it wrote
    root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.ERROR if level > logging.DEBUG else logging.NOTSET)
