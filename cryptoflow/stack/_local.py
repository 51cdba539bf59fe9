"""``LocalStack``: start, inspect and stop the local Kafka + Elasticsearch as one unit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Protocol

from cryptoflow.config import StackSettings
from cryptoflow.errors import StackError
from cryptoflow.stack import _process
from cryptoflow.stack._elastic import ElasticsearchService
from cryptoflow.stack._kafka import KafkaService, port_in_use

log = logging.getLogger(__name__)


class _Service(Protocol):
    name: str
    log_file: Path
    pid_file: Path

    def process(self) -> _process.ManagedProcess | None: ...
    def start(self) -> _process.ManagedProcess: ...
    def probe(self, timeout_s: float = ...) -> dict[str, object] | None: ...
    def ready(self) -> bool: ...


class LocalStack:
    """The local single-node Kafka (KRaft) and Elasticsearch on 127.0.0.1.

    Example::

        stack = LocalStack(load_settings().stack)
        stack.up()          # fetches once, starts, waits until both answer
        stack.status()      # {"kafka": {"up": True, ...}, "elasticsearch": {...}}
        stack.down()        # stops exactly what up() started

    With ``secure=True``, :meth:`up` starts Kafka with a SASL_SSL listener beside PLAINTEXT (see
    :class:`KafkaService`) and creates its SCRAM user.
    """

    def __init__(self, settings: StackSettings, *, secure: bool = False) -> None:
        self.settings = settings
        self.secure = secure
        self.kafka = KafkaService(settings, secure=secure)
        self.elasticsearch = ElasticsearchService(settings)

    @property
    def services(self) -> tuple[_Service, ...]:
        return (self.kafka, self.elasticsearch)

    def _port(self, service: _Service) -> int:
        if service is self.kafka:
            return self.settings.kafka_port
        return self.settings.elasticsearch_port

    def up(self, on_progress: Callable[[str], None] = log.info) -> dict[str, dict[str, object]]:
        """Start whatever is not running yet and wait until both services answer. Idempotent.

        Returns what :meth:`status` returns. Raises :class:`StackError` when a service cannot be fetched,
        started, or does not become ready within ``settings.start_timeout_s``.
        """
        started: list[_Service] = []
        for service in self.services:
            if service.ready():
                if service is self.kafka and self.secure and not self.kafka.listens_securely():
                    raise StackError(
                        f"Kafka already runs on port {self.settings.kafka_port} without the SASL_SSL "
                        "listener; stop it (`cryptoflow stack down`) and run `cryptoflow stack up --secure`"
                    )
                on_progress(f"{service.name} already answers on port {self._port(service)}")
                continue
            if service.probe() is not None:
                on_progress(f"{service.name} answers but is not ready yet (recovering), waiting for it")
                started.append(service)
                continue
            if service.process() is not None:
                on_progress(f"{service.name} is starting (pid file present), waiting for it")
                started.append(service)
                continue
            if port_in_use(self._port(service)):
                raise StackError(
                    f"port {self._port(service)} is taken by a process that is not a working {service.name}; "
                    f"stop it or choose another port (CRYPTOFLOW_STACK__{service.name.upper()}_PORT)"
                )
            if service is self.kafka and self.secure and port_in_use(self.settings.kafka_secure_port):
                raise StackError(
                    f"port {self.settings.kafka_secure_port} (the SASL_SSL listener) is taken; stop what "
                    "listens there or choose another port (CRYPTOFLOW_STACK__KAFKA_SECURE_PORT)"
                )
            on_progress(f"starting {service.name}")
            service.start()
            started.append(service)
        deadline = time.monotonic() + self.settings.start_timeout_s
        for service in started:
            self._wait_ready(service, deadline)
            on_progress(f"{service.name} is up")
        if self.secure:
            self.kafka.ensure_user(timeout_s=max(10.0, deadline - time.monotonic()))
            on_progress(f"kafka accepts SASL_SSL logins on {self.kafka.secure_bootstrap}")
        return self.status()

    def _wait_ready(self, service: _Service, deadline: float) -> None:
        while time.monotonic() < deadline:
            if service.ready():
                return
            if service.process() is None and service.probe() is None:
                raise StackError(
                    f"{service.name} exited while starting; last lines of {service.log_file}:\n"
                    + _tail(service.log_file)
                )
            time.sleep(0.5)
        raise StackError(
            f"{service.name} did not become ready within {self.settings.start_timeout_s:.0f} s "
            f"(CRYPTOFLOW_STACK__START_TIMEOUT_S); last lines of {service.log_file}:\n"
            + _tail(service.log_file)
        )

    def status(self) -> dict[str, dict[str, object]]:
        """Whether each service answers, where, which version, and the pid of the process we manage."""
        kafka_process = self.kafka.process()
        kafka_probe = self.kafka.probe()
        es_process = self.elasticsearch.process()
        es_probe = self.elasticsearch.probe()
        return {
            "kafka": {
                "up": kafka_probe is not None,
                "bootstrap": self.kafka.bootstrap,
                "secure_bootstrap": self.kafka.secure_bootstrap if self.kafka.listens_securely() else None,
                "version": self.kafka.version() if kafka_process else None,
                "managed_pid": kafka_process.pid if kafka_process else None,
                "log": str(self.kafka.log_file),
                **(kafka_probe or {}),
            },
            "elasticsearch": {
                "up": es_probe is not None,
                "url": self.elasticsearch.url,
                "managed_pid": es_process.pid if es_process else None,
                "log": str(self.elasticsearch.log_file),
                **(es_probe or {"version": None}),
            },
        }

    def down(
        self, on_progress: Callable[[str], None] = log.info, *, only: Collection[str] | None = None
    ) -> list[str]:
        """Stop the processes :meth:`up` started (from their pid files); returns the names stopped.

        ``only`` names the services to stop (``kafka``, ``elasticsearch``; default both): a fault test
        stops one and :meth:`up` starts it again.
        """
        stopped = []
        for service in reversed(self.services):
            if only is not None and service.name not in only:
                continue
            process = service.process()
            if process is None:
                Path(service.pid_file).unlink(missing_ok=True)
                continue
            on_progress(f"stopping {service.name} (pid {process.pid})")
            if not _process.stop(process, timeout_s=45.0):
                on_progress(f"{service.name} did not stop in time and was killed")
            stopped.append(service.name)
        return stopped

    def log_files(self) -> dict[str, Path]:
        return {service.name: service.log_file for service in self.services}


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
