"""A single-node Apache Kafka (KRaft: broker and controller in one process) on 127.0.0.1."""

from __future__ import annotations

import base64
import logging
import secrets
import socket
import subprocess
import time
import uuid
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from cryptoflow.config import StackSettings
from cryptoflow.errors import StackError
from cryptoflow.stack import _process
from cryptoflow.stack._download import ensure_kafka, kafka_dir
from cryptoflow.stack._java import java_env, java_executable
from cryptoflow.stack._tls import BrokerTls, ensure_broker_tls, write_private

_LOG4J = """log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.controller=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.raft=WARN
log4j.logger.kafka.log.LogCleaner=WARN
"""

_OFFSETS_PARTITIONS = 10  # partitions of __consumer_offsets on the local broker
SECURE_MECHANISM = "SCRAM-SHA-512"
_SCRAM_ITERATIONS = 8192


class KafkaService:
    """A local broker: its files live under ``<stack home>/run/<name>`` (``kafka`` for the stack's own).

    Another ``name`` with other ports (``settings.kafka_port``, ``settings.kafka_controller_port``) is a
    second, independent broker sharing the downloaded jars, e.g. one a test may kill.

    With ``secure=True`` the broker also listens with SASL_SSL (SCRAM-SHA-512) on
    ``settings.kafka_secure_port``: a CA and a broker certificate for 127.0.0.1 and localhost are made
    under ``<run dir>/secure`` at start, and :meth:`ensure_user` creates the SCRAM user
    ``settings.kafka_secure_user`` with a generated password; :meth:`client_environment` lists the
    ``CRYPTOFLOW_KAFKA__*`` settings a client needs. The PLAINTEXT listener stays (on 127.0.0.1 only) for
    the broker's own controller traffic and for the stack's readiness probes.
    """

    def __init__(self, settings: StackSettings, name: str = "kafka", *, secure: bool = False) -> None:
        self.settings = settings
        self.name = name
        self.secure = secure
        self.run_dir = settings.home / "run" / name
        self.pid_file = self.run_dir / "kafka.pid"
        self.log_file = self.run_dir / "kafka.log"
        self.secure_dir = self.run_dir / "secure"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.settings.kafka_port}"

    @property
    def secure_bootstrap(self) -> str:
        """Where the SASL_SSL listener answers."""
        return f"127.0.0.1:{self.settings.kafka_secure_port}"

    @property
    def tls(self) -> BrokerTls:
        return BrokerTls(self.secure_dir)

    @property
    def password_file(self) -> Path:
        """The SCRAM user's password (mode 0600), generated on the first secure start."""
        return self.secure_dir / "sasl.password"

    @property
    def client_env_file(self) -> Path:
        """Every ``CRYPTOFLOW_KAFKA__*`` setting of a client of the secure listener, password included
        (mode 0600): ``set -a; . <file>; set +a``, or copy the lines into ``.env``."""
        return self.secure_dir / "client.env"

    def process(self) -> _process.ManagedProcess | None:
        return _process.read(self.pid_file, self.log_file)

    def _server_properties(self, data_dir: Path) -> str:
        port, controller = self.settings.kafka_port, self.settings.kafka_controller_port
        listeners = [f"PLAINTEXT://127.0.0.1:{port}"]
        secure: list[str] = []
        if self.secure:
            tls = self.tls
            listeners.append(f"SASL_SSL://{self.secure_bootstrap}")
            secure = [
                f"sasl.enabled.mechanisms={SECURE_MECHANISM}",
                # a listener taking SASL needs a login module, even one that logs nobody in
                f"listener.name.sasl_ssl.{SECURE_MECHANISM.lower()}.sasl.jaas.config="
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                "ssl.keystore.type=PKCS12",
                f"ssl.keystore.location={tls.keystore_file}",
                f"ssl.keystore.password={tls.keystore_password()}",
                f"ssl.key.password={tls.keystore_password()}",
                "ssl.client.auth=none",
            ]
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{controller}",
                f"listeners={','.join([*listeners, f'CONTROLLER://127.0.0.1:{controller}'])}",
                f"advertised.listeners={','.join(listeners)}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL",
                *secure,
                f"log.dirs={data_dir}",
                "num.partitions=3",
                "offsets.topic.replication.factor=1",
                f"offsets.topic.num.partitions={_OFFSETS_PARTITIONS}",
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
        if self.secure:
            ensure_broker_tls(self.secure_dir, ["127.0.0.1", "localhost"])
        write_private(config, self._server_properties(data_dir))  # it holds the keystore password
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
                    # one word: a random id may start with "-", which a separate argument would turn
                    # into an option ("argument --cluster-id/-t: expected one argument")
                    f"--cluster-id={cluster_id}",
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

    def stop(self, timeout_s: float = 45.0) -> bool:
        """Stop the broker this service started (SIGTERM, then SIGKILL after ``timeout_s``).

        Returns False when it had to be killed."""
        process = self.process()
        return True if process is None else _process.stop(process, timeout_s=timeout_s)

    def wait_ready(self, timeout_s: float) -> None:
        """Wait until :meth:`ready`; raises :class:`StackError` with the log's tail after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not self.ready():
            if time.monotonic() > deadline:
                raise StackError(
                    f"{self.name} did not become ready within {timeout_s:.0f} s; see {self.log_file}"
                )
            time.sleep(0.5)

    def ready(self) -> bool:
        """The broker answers a metadata request and its group coordinator serves consumer groups.

        A broker that has just started answers metadata seconds before it can coordinate groups (clients
        then get ``NOT_COORDINATOR``); one probe group per partition of ``__consumer_offsets`` proves that
        any group id can join.
        """
        if self.probe() is None:
            return False
        admin = self._admin(timeout_s=5.0)
        try:
            for future in admin.describe_consumer_groups(list(_PROBE_GROUPS), request_timeout=5).values():
                future.result(timeout=5)
        except KafkaException:
            return False
        return True

    def _admin(self, timeout_s: float, listener: dict[str, str] | None = None) -> AdminClient:
        """A quiet admin client on the plain listener, or on the one ``listener`` configures."""
        return AdminClient(
            {
                "bootstrap.servers": self.bootstrap,
                "socket.timeout.ms": int(timeout_s * 1000),
                "log_level": 0,
                **(listener or {}),
            },
            logger=_silent_logger(),  # a keyword: the conf dict's type allows no objects
        )

    def probe(self, timeout_s: float = 2.0) -> dict[str, object] | None:
        """Ask the broker for metadata; ``None`` when it does not answer."""
        admin = self._admin(timeout_s)
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

    # -- the SASL_SSL listener ------------------------------------------------------------------------

    def listens_securely(self) -> bool:
        """Whether the running broker was started with the SASL_SSL listener (its server.properties)."""
        try:
            config = (self.run_dir / "server.properties").read_text()
        except OSError:
            return False
        listener = f"SASL_SSL://{self.secure_bootstrap}"
        return listener in config and port_in_use(self.settings.kafka_secure_port)

    def password(self) -> str:
        """The SCRAM user's password, generated (and kept in :attr:`password_file`) on first use."""
        if not self.password_file.exists():
            self.secure_dir.mkdir(parents=True, exist_ok=True)
            write_private(self.password_file, secrets.token_urlsafe(24))
        return self.password_file.read_text().strip()

    def client_environment(self) -> dict[str, str]:
        """The ``CRYPTOFLOW_KAFKA__*`` settings of a client of the SASL_SSL listener (password included)."""
        return {
            "CRYPTOFLOW_KAFKA__BOOTSTRAP_SERVERS": self.secure_bootstrap,
            "CRYPTOFLOW_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
            "CRYPTOFLOW_KAFKA__SASL_MECHANISM": SECURE_MECHANISM,
            "CRYPTOFLOW_KAFKA__SASL_USERNAME": self.settings.kafka_secure_user,
            "CRYPTOFLOW_KAFKA__SASL_PASSWORD": self.password(),
            "CRYPTOFLOW_KAFKA__SSL_CA_LOCATION": str(self.tls.ca_file),
        }

    def ensure_user(self, timeout_s: float = 60.0) -> None:
        """Create (or reset) the SCRAM user through the PLAINTEXT listener, then wait until a client logs
        in through the SASL_SSL listener; writes :attr:`client_env_file`. Raises :class:`StackError`."""
        user = self.settings.kafka_secure_user
        mechanism = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, _SCRAM_ITERATIONS)
        upsert = UserScramCredentialUpsertion(user, mechanism, self.password().encode())
        deadline = time.monotonic() + timeout_s
        admin = self._admin(10.0)  # held: futures of a client that is gone fail with _DESTROY
        while True:
            try:
                admin.alter_user_scram_credentials([upsert])[user].result(timeout=10)
                break
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    raise StackError(
                        f"could not create the SCRAM user {user!r} on {self.name}: {exc}"
                    ) from None
                time.sleep(0.5)
        environment = self.client_environment()
        write_private(self.client_env_file, "".join(f"{key}={value}\n" for key, value in environment.items()))
        while not self.secure_probe():
            if time.monotonic() > deadline:
                raise StackError(
                    f"{self.name}: no client could log in on the SASL_SSL listener {self.secure_bootstrap} "
                    f"within {timeout_s:.0f} s; see {self.log_file}"
                )
            time.sleep(0.5)

    def secure_probe(self, timeout_s: float = 5.0) -> bool:
        """A metadata request through the SASL_SSL listener, logged in as the SCRAM user, succeeds."""
        admin = self._admin(
            timeout_s,
            {
                "bootstrap.servers": self.secure_bootstrap,
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": SECURE_MECHANISM,
                "sasl.username": self.settings.kafka_secure_user,
                "sasl.password": self.password(),
                "ssl.ca.location": str(self.tls.ca_file),
            },
        )
        try:
            admin.list_topics(timeout=timeout_s)
        except KafkaException:
            return False
        return True


def _coordinator_partition(group_id: str, partitions: int) -> int:
    """The ``__consumer_offsets`` partition (hence the coordinator) of a group: Java's
    ``abs(groupId.hashCode()) % partitions``, as the broker computes it."""
    code = 0
    for unit in group_id.encode("utf-16-be").hex(" ", 2).split():
        code = (31 * code + int(unit, 16)) & 0xFFFFFFFF
    code = code - (1 << 32) if code >= 1 << 31 else code
    return (0 if code == -(1 << 31) else abs(code)) % partitions


def _probe_groups(partitions: int) -> tuple[str, ...]:
    """One group id per ``__consumer_offsets`` partition."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < partitions:
        name = f"cryptoflow-stack-probe-{n}"
        found.setdefault(_coordinator_partition(name, partitions), name)
        n += 1
    return tuple(found[p] for p in range(partitions))


_PROBE_GROUPS = _probe_groups(_OFFSETS_PARTITIONS)


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
