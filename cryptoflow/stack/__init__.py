"""The services: the local real stack (a single-node Kafka (KRaft) and Elasticsearch, fetched from Maven
Central); preparing any stack (topics, index templates, Kibana saved objects) and checking its health; and
the supervision of child processes that the stack, the demo, the tests and the benchmarks share.

``LocalStack(settings.stack).up()`` is what ``cryptoflow stack up``, the tests and the demo use.
"""

from cryptoflow.stack._health import check_health
from cryptoflow.stack._kafka import KafkaService, port_in_use
from cryptoflow.stack._local import LocalStack
from cryptoflow.stack._process import ChildExited, Supervisor
from cryptoflow.stack._setup import setup_stack
from cryptoflow.stack._tls import ensure_broker_tls, kafka_image_secrets

__all__ = [
    "ChildExited",
    "KafkaService",
    "LocalStack",
    "Supervisor",
    "check_health",
    "ensure_broker_tls",
    "kafka_image_secrets",
    "port_in_use",
    "setup_stack",
]
