"""The CA and broker certificate made for a SASL_SSL listener, and `cryptoflow stack certs`."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from cryptoflow.stack import ensure_broker_tls

CRYPTOFLOW = Path(sys.executable).with_name("cryptoflow")


def _broker_cert(folder: Path) -> tuple[x509.Certificate, list[x509.Certificate]]:
    password = (folder / "broker.p12.password").read_bytes()
    key, cert, chain = pkcs12.load_key_and_certificates((folder / "broker.p12").read_bytes(), password)
    assert key is not None and cert is not None
    return cert, chain


def test_the_broker_certificate_is_signed_by_the_ca_and_names_every_host(tmp_path: Path) -> None:
    tls = ensure_broker_tls(tmp_path, ["kafka", "127.0.0.1"])
    ca = x509.load_pem_x509_certificate(tls.ca_file.read_bytes())
    cert, chain = _broker_cert(tmp_path)
    cert.verify_directly_issued_by(ca)  # raises when the CA did not sign it
    assert chain == [ca]
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["kafka"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for secret in ("ca.key", "broker.p12", "broker.p12.password"):
        assert (tmp_path / secret).stat().st_mode & 0o077 == 0, secret


def test_valid_files_are_kept_and_a_new_host_gets_a_new_broker_certificate(tmp_path: Path) -> None:
    ensure_broker_tls(tmp_path, ["localhost"])
    ca, keystore = (tmp_path / "ca.pem").read_bytes(), (tmp_path / "broker.p12").read_bytes()
    ensure_broker_tls(tmp_path, ["localhost"])
    assert (tmp_path / "ca.pem").read_bytes() == ca and (tmp_path / "broker.p12").read_bytes() == keystore
    ensure_broker_tls(tmp_path, ["localhost", "kafka"])
    assert (tmp_path / "ca.pem").read_bytes() == ca  # clients keep trusting the same CA
    cert, _ = _broker_cert(tmp_path)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(names.get_values_for_type(x509.DNSName)) == ["kafka", "localhost"]


def test_stack_certs_writes_what_the_kafka_image_reads(tmp_path: Path) -> None:
    owner = f"{os.getuid()}:{os.getgid()}"
    result = subprocess.run(
        [str(CRYPTOFLOW), "stack", "certs", str(tmp_path / "secrets"), "--host", "kafka", "--owner", owner],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "secrets"
    assert (
        result.stdout.strip() == f"Kafka TLS files in {folder} for kafka; clients trust {folder / 'ca.pem'}"
    )
    assert sorted(p.name for p in folder.iterdir()) == [
        "broker.p12", "broker.p12.password", "ca.key", "ca.pem", "kafka_server_jaas.conf",
    ]  # fmt: skip
    assert "ScramLoginModule required" in (folder / "kafka_server_jaas.conf").read_text()
    assert (folder / "ca.pem").stat().st_mode & 0o044 == 0o044  # clients of other users read the CA
    bad = subprocess.run(
        [str(CRYPTOFLOW), "stack", "certs", str(folder), "--owner", "appuser"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "error: --owner expects uid or uid:gid as numbers (e.g. 1000:1000), got 'appuser'"
    )
