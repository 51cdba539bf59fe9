"""Kafka's security failures as one :class:`~cryptoflow.errors.ConfigurationError` naming the setting.

librdkafka does not fail on a wrong password or an untrusted broker certificate: it reports the error
to the client's error callback and its log, and retries for ever. Every client cryptoflow builds (through
:func:`~cryptoflow.kafka.client_config`) gets the callbacks defined here: a failure that only a change of
settings can fix (SASL authentication refused, the broker's certificate not signed by the configured CA,
a CA file that holds no certificate) raises a ``ConfigurationError`` from the client's next poll, and
librdkafka's log lines go to the ``cryptoflow.kafka.librdkafka`` logger, those about the failure being
reported once, as the error, instead of again and again. librdkafka repeats a failure at every reconnect
attempt (every 0.1 to 10 s, for every client), so each distinct line is logged once per five minutes at
most, at WARNING at most (every line with ``--verbose``); what the user must act on is said by our own
errors, which carry librdkafka's reason (:func:`client_reasons`).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from cryptoflow.config import KafkaSettings, mask_credentials, register_secret
from cryptoflow.errors import ConfigurationError

__all__ = ["client_reasons", "creation_error", "security_callbacks"]

log = logging.getLogger("cryptoflow.kafka.librdkafka")

_SETTING = "CRYPTOFLOW_KAFKA__"
_CERT_UNTRUSTED = "certificate verify failed"
# e.g. "SASL authentication error: Authentication failed during authentication due to invalid
# credentials with SASL mechanism SCRAM-SHA-512", "SASL handshake failed ... mechanism ... not supported"
_SASL_FAILED = re.compile(r"SASL authentication error|SASL handshake failed|Unsupported SASL mechanism")
_MECHANISM_MISSING = re.compile(r"not supported by broker|Unsupported SASL mechanism", re.IGNORECASE)


def _ca_advice(settings: KafkaSettings) -> str:
    where = (
        f"the CA in {str(settings.ssl_ca_location)!r}"
        if settings.ssl_ca_location
        else "the system's CA certificates (no CA file is set)"
    )
    return (
        f"Kafka at {settings.bootstrap_servers}: the broker's TLS certificate is not trusted by {where}; "
        f"set {_SETTING}SSL_CA_LOCATION to the CA certificate (PEM) that signed the broker's certificate"
    )


def _classify(settings: KafkaSettings, text: str, code: int | None) -> str | None:
    """The message for a security failure described by ``text``, or ``None`` when it is not one."""
    if _CERT_UNTRUSTED in text:
        return _ca_advice(settings)
    if code == KafkaError._AUTHENTICATION or _SASL_FAILED.search(text):
        mechanism = settings.sasl_mechanism or "no mechanism"
        if _MECHANISM_MISSING.search(text):
            return (
                f"Kafka at {settings.bootstrap_servers} does not offer SASL mechanism {mechanism}; set "
                f"{_SETTING}SASL_MECHANISM to one its listener enables (e.g. SCRAM-SHA-512)"
            )
        return (
            f"Kafka at {settings.bootstrap_servers} refused the login of user "
            f"{settings.sasl_username!r} ({mechanism}): check {_SETTING}SASL_PASSWORD "
            f"(and {_SETTING}SASL_USERNAME, {_SETTING}SASL_MECHANISM)"
        )
    if code == KafkaError._SSL:
        return (
            f"Kafka at {settings.bootstrap_servers}: the TLS handshake failed ({_reason(text)}); check that "
            f"{_SETTING}BOOTSTRAP_SERVERS points at a listener speaking {settings.security_protocol} "
            f"({_SETTING}SECURITY_PROTOCOL)"
        )
    return None


def _reason(text: str) -> str:
    """librdkafka's reason without its ``<protocol>://<host>/<id>: `` prefix and timing suffix."""
    text = re.sub(r"^\S+://\S+: ", "", text)
    return re.sub(r" \(after \d+ms in state \w+\)$", "", text)


def creation_error(settings: KafkaSettings, exc: KafkaException) -> ConfigurationError:
    """The ConfigurationError for a client librdkafka refused to create (its configuration is wrong)."""
    error = exc.args[0] if exc.args else None
    text = error.str() if isinstance(error, KafkaError) else str(exc)
    if "ssl.ca.location" in text:
        log.debug("librdkafka refused the CA file: %s", text)  # OpenSSL's words, for --verbose
        return ConfigurationError(
            f"{_SETTING}SSL_CA_LOCATION: {str(settings.ssl_ca_location)!r} holds no CA certificate (PEM); "
            "set it to the CA certificate file (PEM) that signed the broker's certificate"
        )
    return ConfigurationError(
        f"the Kafka client settings ({_SETTING}*) are not accepted: {mask_credentials(text)}"
    )


class _Callbacks:
    """``error_cb`` and ``logger`` of one client (librdkafka calls them from the client's poll, flush,
    consume, close, and from its destruction)."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self.raised = False
        if settings.sasl_password:  # also when the settings were not read by load_settings
            register_secret(settings.sasl_password.get_secret_value())

    def on_error(self, error: KafkaError) -> None:
        if sys.is_finalizing():
            return
        message = _classify(self.settings, error.str(), error.code())
        if message is None:
            log.debug("client error: %s", mask_credentials(error.str()))
            return
        if not self.raised:
            # Once per client: the exception leaves the poll/consume/flush that served the error (the
            # command stops with exit code 2); later reports of the same failure, e.g. while the
            # client is destroyed, must not raise again. confluent-kafka keeps a reference to an
            # exception raised here for ever: whoever catches it drops its traceback, or the frames
            # in it keep the client alive (the CLI does, see cryptoflow.cli._let_go).
            self.raised = True
            raise ConfigurationError(message)

    def log(self, level: int, msg: str, *args: Any) -> None:  # the logging.Logger.log signature
        if sys.is_finalizing():
            return
        text = _THREAD_TAG.sub("", mask_credentials(msg % args if args else msg))
        captured = getattr(_capture, "lines", None)
        if captured is not None:  # client_reasons(): the reason goes into our error, not a line of its own
            captured.append(_THREAD_TAG.sub("", mask_credentials(str(args[-1]) if args else msg)))
            if not log.isEnabledFor(logging.DEBUG):
                return
        if _classify(self.settings, text, None) is not None:
            level = logging.DEBUG  # reported once, as the ConfigurationError
        if log.isEnabledFor(logging.DEBUG):
            log.log(level, "%s", text)
        elif _first_in_window(text):
            log.log(min(level, logging.WARNING), "%s", text)


_THREAD_TAG = re.compile(r"\[thrd:[^\]]*\]: ")
_VARIABLE = re.compile(r"\(after \d+ms in state \w+[^)]*\)|#\w+-\d+|\d+ms")
_WINDOW_S = 300.0
_seen: dict[str, float] = {}
_seen_lock = threading.Lock()
_capture = threading.local()  # lines served by a poll are delivered in the polling thread


def _first_in_window(text: str) -> bool:
    """Whether this line (its variable parts aside) was not logged in the last five minutes."""
    key = _VARIABLE.sub("", text)
    now = time.monotonic()
    with _seen_lock:
        if now - _seen.get(key, -_WINDOW_S) < _WINDOW_S:
            return False
        if len(_seen) > 1000:
            _seen.clear()
        _seen[key] = now
    return True


def client_reasons(client: Any) -> list[str]:
    """Serve ``client``'s pending callbacks (a security failure raises its ConfigurationError) and
    return librdkafka's pending log lines instead of logging them: the reason a broker does not answer
    (refused, unknown host...), to put into an error message."""
    lines: list[str] = []
    _capture.lines = lines
    try:
        client.poll(0)
    finally:
        _capture.lines = None
    return list(dict.fromkeys(_VARIABLE.sub("", line).strip() for line in lines))


def security_callbacks(settings: KafkaSettings) -> dict[str, Any]:
    """``error_cb`` and ``logger`` entries for a librdkafka configuration (see the module's doc)."""
    callbacks = _Callbacks(settings)
    return {"error_cb": callbacks.on_error, "logger": callbacks}
