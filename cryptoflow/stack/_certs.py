"""The certificates behind :mod:`cryptoflow.stack._tls`, made with the ``cryptography`` package (no
``openssl`` or ``keytool`` processes). Imported only when certificates are checked or made: the package
costs about 25 ms, which every CLI start would otherwise pay.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cryptoflow.stack._tls import BrokerTls, write_private

__all__ = ["ensure_certificates"]

_VALID_DAYS = 825  # the longest validity common TLS clients accept for a server certificate
_RENEW_BEFORE = dt.timedelta(days=30)


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


def ensure_certificates(tls: BrokerTls, hosts: list[str]) -> None:
    """Keep the CA and broker certificate in ``tls.folder`` when valid and covering ``hosts``; make
    anew what is not (see :func:`cryptoflow.stack._tls.ensure_broker_tls`)."""
    ca = _load_ca(tls) or _new_ca(tls)
    if not _broker_is_current(tls, ca[0], hosts):
        _new_broker(tls, ca[0], ca[1], hosts)
