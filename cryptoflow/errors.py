"""Exceptions named for what the operator must do.

Every error a user can cause or fix derives from :class:`CryptoflowError`; the CLI prints its message
(never a traceback) and exits with :attr:`CryptoflowError.exit_code`. The exit codes of ``cryptoflow``:

==== =========================================================================================
0    success
1    failure: the work could not be done (bad input data, a service down, an exchange rejection)
2    usage or configuration: fix the command line or the settings and run it again
130  interrupted (Ctrl-C, SIGINT)
==== =========================================================================================
"""

from __future__ import annotations

import math

__all__ = [
    "check_range",
    "CryptoflowError",
    "ConfigurationError",
    "TemporaryError",
    "ExchangeRejection",
    "StackError",
    "DataError",
    "RestrictedLocation",
    "Terminated",
]


class CryptoflowError(Exception):
    """Base of every error whose message is meant for the person running cryptoflow."""

    exit_code = 1


class ConfigurationError(CryptoflowError):
    """A setting is missing or wrong: fix your settings (environment, ``.env`` or config file)."""

    exit_code = 2


def check_range(
    option: str,
    value: float,
    expected: str,
    low: float,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = True,
) -> None:
    """Raise :class:`ConfigurationError` ``"<option> <value>: expected <expected>"`` unless ``value`` is
    finite and within ``low``..``high`` (each end included unless ``low_open``/``high_open``)."""
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (math.isfinite(value) and above and below):
        raise ConfigurationError(f"{option} {value:g}: expected {expected}")


class DataError(CryptoflowError):
    """Input data is malformed: the message names the file, the row and the rule it breaks."""


class TemporaryError(CryptoflowError):
    """A service is unavailable for now: the operation is retried with backoff."""


class ExchangeRejection(CryptoflowError):
    """The exchange refused a request: read its reason (code and message are kept verbatim)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"exchange rejected the request: code {code}: {message}")
        self.code = code
        self.reason = message


class StackError(CryptoflowError):
    """The local Kafka/Elasticsearch stack could not be fetched, started or reached."""


class Terminated(KeyboardInterrupt):
    """SIGTERM asked the process to stop (``docker stop``, systemd). It unwinds like Ctrl-C, so every
    ``except KeyboardInterrupt`` clean-up runs, but the command then exits 0: stopping was requested."""


class RestrictedLocation(CryptoflowError):
    """The exchange refuses to serve this server's region (HTTP 451): run cryptoflow somewhere else.

    Binance answers every request from a restricted location, the United States and so every AWS US
    region included, with HTTP 451; retrying cannot help, so whatever meets it stops with this message.
    """

    def __init__(self, what: str) -> None:
        super().__init__(
            f"Binance refuses this server's region (HTTP 451 'Service unavailable from a restricted "
            f"location' from its {what}); run cryptoflow in a region Binance serves, e.g. AWS "
            "eu-central-1 (Frankfurt) or ap-east-1 (Hong Kong), not a US region (Binance's terms, "
            "'b. Eligibility', list the restricted locations)"
        )
