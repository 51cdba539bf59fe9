"""The services: the local real stack (a single-node Kafka (KRaft) and Elasticsearch, fetched from Maven
Central), and the supervision of child processes that it, the demo, the tests and the benchmarks share.

``LocalStack(settings.stack).up()`` is what ``cryptoflow stack up``, the tests and the demo use.
"""

from cryptoflow.stack._kafka import KafkaService, port_in_use
from cryptoflow.stack._local import LocalStack
from cryptoflow.stack._process import ChildExited, Supervisor
from cryptoflow.stack._tls import kafka_image_secrets

__all__ = ["ChildExited", "KafkaService", "LocalStack", "Supervisor", "kafka_image_secrets", "port_in_use"]
