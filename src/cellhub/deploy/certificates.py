"""The deployment's certificate authority and the mutual-TLS contexts built from it.

Hubs and workers trust nothing but this CA: a worker accepts only hubs that present
a client certificate it signed, and a hub talks only to workers whose server
certificate it signed. Keys are EC P-256 (fast handshakes) and written 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class CertificatePaths:
    """Where one deployment's CA and its hub/worker certificates live."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    def cert(self, role: str) -> Path:
        return self.directory / f"{role}.pem"

    def key(self, role: str) -> Path:
        return self.directory / f"{role}.key"


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cellhub"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _builder(
    subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def create_ca(paths: CertificatePaths) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("cellhub deployment CA")
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    _write_key(paths.ca_key, key)
    paths.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def issue_certificate(paths: CertificatePaths, role: str, hosts: list[str]) -> None:
    """Sign a certificate for ``role`` ("hub" or "worker") valid for ``hosts``."""
    ca_key = _load_key(paths.ca_key)
    ca_cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if role == "hub" else ExtendedKeyUsageOID.SERVER_AUTH
    cert = (
        _builder(_name(f"cellhub {role}"), ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(paths.key(role), key)
    paths.cert(role).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_certificates(directory: Path, hosts: list[str] | None = None) -> CertificatePaths:
    """Create the CA and the hub and worker certificates unless they already exist."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    paths = CertificatePaths(directory)
    if not paths.ca_cert.exists():
        create_ca(paths)
    for role in ("hub", "worker"):
        if not paths.cert(role).exists():
            issue_certificate(paths, role, hosts or ["127.0.0.1", "localhost", "::1"])
    return paths


def worker_ssl_context(paths: CertificatePaths) -> ssl.SSLContext:
    """Server side: require a client certificate signed by the deployment CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(paths.cert("worker"), paths.key("worker"))
    ctx.load_verify_locations(paths.ca_cert)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def hub_ssl_context(paths: CertificatePaths) -> ssl.SSLContext:
    """Client side: present the hub certificate and trust only the deployment CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(paths.cert("hub"), paths.key("hub"))
    ctx.load_verify_locations(paths.ca_cert)
    return ctx
