"""A single-node Apache Kafka (KRaft: broker and controller in one process) on 127.0.0.1."""

from __future__ import annotations

import base64
import logging
import socket
import subprocess
import uuid
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from cryptoflow.config import StackSettings
from cryptoflow.errors import StackError
from cryptoflow.stack import _process
from cryptoflow.stack._download import ensure_kafka, kafka_dir
from cryptoflow.stack._java import java_env, java_executable

_LOG4J = """log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.controller=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.raft=WARN
log4j.logger.kafka.log.LogCleaner=WARN
"""


class KafkaService:
    """The local broker: its files live under ``<stack home>/run/kafka``."""

    name = "kafka"

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.run_dir = settings.home / "run" / "kafka"
        self.pid_file = self.run_dir / "kafka.pid"
        self.log_file = self.run_dir / "kafka.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.settings.kafka_port}"

    def process(self) -> _process.ManagedProcess | None:
        return _process.read(self.pid_file, self.log_file)

    def _server_properties(self, data_dir: Path) -> str:
        port, controller = self.settings.kafka_port, self.settings.kafka_controller_port
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{controller}",
                f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={data_dir}",
                "num.partitions=3",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=10",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "log.retention.hours=168",
                "",
            ]
        )

    def start(self) -> _process.ManagedProcess:
        """Prepare configuration and storage (once) and launch the broker; does not wait for it."""
        dist = ensure_kafka(self.settings)
        java = java_executable()
        data_dir = self.run_dir / "data"
        config = self.run_dir / "server.properties"
        log4j = self.run_dir / "log4j.properties"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config.write_text(self._server_properties(data_dir))
        log4j.write_text(_LOG4J)
        classpath = f"{dist / 'libs'}/*"
        env = java_env()
        if not (data_dir / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            result = subprocess.run(
                [
                    java,
                    "-Xmx256m",
                    f"-Dlog4j.configuration=file:{log4j}",
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(config),
                ],
                capture_output=True,
                text=True,
                env=env,
            )
            if result.returncode != 0:
                raise StackError(f"formatting Kafka's KRaft storage failed:\n{result.stdout}{result.stderr}")
        heap = self.settings.kafka_heap
        command = [
            java,
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{log4j}",
            f"-Dkafka.logs.dir={self.run_dir}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(config),
        ]
        return _process.start(
            self.name, command, env=env, cwd=self.run_dir, log_file=self.log_file, pid_file=self.pid_file
        )

    def ready(self) -> bool:
        """The broker answers a metadata request."""
        return self.probe() is not None

    def probe(self, timeout_s: float = 2.0) -> dict[str, object] | None:
        """Ask the broker for metadata; ``None`` when it does not answer."""
        admin = AdminClient(
            {
                "bootstrap.servers": self.bootstrap,
                "socket.timeout.ms": int(timeout_s * 1000),
                "log_level": 0,
                "logger": _silent_logger(),
            }
        )
        try:
            metadata = admin.list_topics(timeout=timeout_s)
        except KafkaException:
            return None
        return {
            "brokers": len(metadata.brokers),
            "cluster_id": metadata.cluster_id,
            "topics": len(metadata.topics),
        }

    def version(self) -> str | None:
        marker = kafka_dir(self.settings) / ".complete"
        return marker.read_text().strip() if marker.exists() else None


def _silent_logger() -> logging.Logger:
    logger = logging.getLogger("cryptoflow.stack.kafka-probe")
    logger.setLevel(logging.CRITICAL)
    logger.propagate = False
    return logger


def port_in_use(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
