"""The Kafka -> Elasticsearch sink (``cryptoflow sink``): at-least-once reading, idempotent writing.

>>> from cryptoflow.config import load_settings
>>> from cryptoflow.sink import Sink, SinkOptions
>>> Sink(load_settings(), SinkOptions(once=True)).run()  # doctest: +SKIP
SinkStats(indexed=…, dead_lettered=…, …)
"""

from cryptoflow.sink._dlq import DLQ_HEADER_PREFIX, DeadLetter, DeadLetterPublisher, read_dead_letters
from cryptoflow.sink._monitor import SinkStats
from cryptoflow.sink._options import SinkOptions
from cryptoflow.sink._runner import Sink

__all__ = [
    "DLQ_HEADER_PREFIX",
    "DeadLetter",
    "DeadLetterPublisher",
    "Sink",
    "SinkOptions",
    "SinkStats",
    "read_dead_letters",
]
