"""The local real stack: a single-node Kafka (KRaft) and Elasticsearch, fetched from Maven Central.

``LocalStack(settings.stack).up()`` is what ``cryptoflow stack up``, the tests and the demo use.
"""

from cryptoflow.stack._kafka import KafkaService
from cryptoflow.stack._local import LocalStack

__all__ = ["KafkaService", "LocalStack"]
