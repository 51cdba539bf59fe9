"""A private CA and a broker certificate signed by it, for a Kafka listener with TLS (SSL, SASL_SSL).

Written with the ``cryptography`` package (no ``openssl`` or ``keytool`` processes): the CA as PEM for
clients (``CRYPTOFLOW_KAFKA__SSL_CA_LOCATION``), the broker's key and chain as a PKCS#12 keystore for the
JVM. Files that exist and still cover the requested host names are kept, so clients holding the CA go on
working across restarts.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["BrokerTls", "ensure_broker_tls", "kafka_image_secrets", "write_private"]

_VALID_DAYS = 825  # the longest validity common TLS clients accept for a server certificate
_RENEW_BEFORE = dt.timedelta(days=30)


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


def _names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_ca(tls: BrokerTls) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"cryptoflow local CA {secrets.token_hex(4)}")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(
        tls.ca_key_file,
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    write_private(tls.ca_file, cert.public_bytes(serialization.Encoding.PEM))
    tls.ca_file.chmod(0o644)  # the CA certificate is public
    return cert, key


def _load_ca(tls: BrokerTls) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate(tls.ca_file.read_bytes())
        key = serialization.load_pem_private_key(tls.ca_key_file.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.not_valid_after_utc - _RENEW_BEFORE < _now():
        return None
    return cert, key


def _broker_is_current(tls: BrokerTls, ca: x509.Certificate, hosts: list[str]) -> bool:
    try:
        _, cert, _ = pkcs12.load_key_and_certificates(
            tls.keystore_file.read_bytes(), tls.keystore_password().encode()
        )
    except (OSError, ValueError):
        return False
    if cert is None or cert.issuer != ca.subject or cert.not_valid_after_utc - _RENEW_BEFORE < _now():
        return False
    present = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return all(name in present for name in _names(hosts))


def _new_broker(
    tls: BrokerTls, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, hosts: list[str]
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    password = secrets.token_urlsafe(24)
    keystore = pkcs12.serialize_key_and_certificates(
        b"broker", key, cert, [ca], serialization.BestAvailableEncryption(password.encode())
    )
    write_private(tls.keystore_password_file, password.encode())
    write_private(tls.keystore_file, keystore)


def ensure_broker_tls(folder: Path, hosts: list[str]) -> BrokerTls:
    """A CA and a broker certificate for ``hosts`` (DNS names or IP addresses) under ``folder``.

    Kept when present, valid for 30 more days and covering every host; otherwise made anew (a new CA
    only when the old one is gone or expiring). The CA key and the keystore are readable by the owner
    only; ``ca.pem`` is public.
    """
    tls = BrokerTls(folder)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    ca = _load_ca(tls) or _new_ca(tls)
    if not _broker_is_current(tls, ca[0], hosts):
        _new_broker(tls, ca[0], ca[1], hosts)
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
