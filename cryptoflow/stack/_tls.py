"""A private CA and a broker certificate signed by it, for a Kafka listener with TLS (SSL, SASL_SSL).

Written with the ``cryptography`` package (no ``openssl`` or ``keytool`` processes): the CA as PEM for
clients (``CRYPTOFLOW_KAFKA__SSL_CA_LOCATION``), the broker's key and chain as a PKCS#12 keystore for the
JVM. Files that exist and still cover the requested host names are kept, so clients holding the CA go on
working across restarts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BrokerTls", "ensure_broker_tls", "kafka_image_secrets", "write_private"]


@dataclass(frozen=True)
class BrokerTls:
    """Where the TLS material of one broker lives (all under one folder, readable by its owner only)."""

    folder: Path

    @property
    def ca_file(self) -> Path:
        """The CA certificate (PEM) clients verify the broker with."""
        return self.folder / "ca.pem"

    @property
    def ca_key_file(self) -> Path:
        return self.folder / "ca.key"

    @property
    def keystore_file(self) -> Path:
        """The broker's private key and certificate chain (PKCS#12)."""
        return self.folder / "broker.p12"

    @property
    def keystore_password_file(self) -> Path:
        return self.folder / "broker.p12.password"

    def keystore_password(self) -> str:
        return self.keystore_password_file.read_text().strip()


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path``, readable by its owner only from the first byte on (a temporary file
    renamed into place)."""
    partial = path.with_name(path.name + ".part")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
    partial.replace(path)


def ensure_broker_tls(folder: Path, hosts: list[str]) -> BrokerTls:
    """A CA and a broker certificate for ``hosts`` (DNS names or IP addresses) under ``folder``.

    Kept when present, valid for 30 more days and covering every host; otherwise made anew (a new CA
    only when the old one is gone or expiring). The CA key and the keystore are readable by the owner
    only; ``ca.pem`` is public.
    """
    tls = BrokerTls(folder)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    from cryptoflow.stack._certs import ensure_certificates  # only here: see cryptoflow.stack._certs

    ensure_certificates(tls, hosts)
    return tls


# The JAAS login module a SCRAM listener of the apache/kafka image needs (KAFKA_OPTS points at it).
_SERVER_JAAS = "KafkaServer {\n  org.apache.kafka.common.security.scram.ScramLoginModule required;\n};\n"


def kafka_image_secrets(folder: Path, hosts: list[str], owner: tuple[int, int] | None = None) -> BrokerTls:
    """What the ``apache/kafka`` image reads from ``/etc/kafka/secrets`` for a SASL_SSL listener: the
    broker keystore (``broker.p12``), its password file (``broker.p12.password``, for both
    ``KAFKA_SSL_KEYSTORE_CREDENTIALS`` and ``KAFKA_SSL_KEY_CREDENTIALS``) and ``kafka_server_jaas.conf``,
    beside the public ``ca.pem`` clients verify the broker with. Kept when still valid.

    ``owner`` (uid, gid) gets the broker's files (the image runs as uid 1000); the CA key stays with
    the caller.
    """
    tls = ensure_broker_tls(folder, hosts)
    jaas = folder / "kafka_server_jaas.conf"
    write_private(jaas, _SERVER_JAAS)
    folder.chmod(0o755)  # clients of other users read ca.pem; every secret file is 0600
    if owner is not None:
        for path in (tls.keystore_file, tls.keystore_password_file, jaas):
            os.chown(path, *owner)
    return tls
