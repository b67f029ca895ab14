"""The deployment's certificate authority, the certificates it signs, and the mutual-TLS
contexts hubs and workers build from them.

Hubs and workers trust nothing but the deployment's CA, and each certificate says which
role it plays (its extended key usage: ``clientAuth`` for a hub, ``serverAuth`` for a
worker), which TLS checks: a worker's certificate cannot pose as a hub's, nor a hub's as a
worker's. A hub also checks that the worker's certificate names the host it dialed; a worker
does not check the hub's name, because hubs connect from whatever address they have.
Connections are TLS 1.3 only. Keys are EC P-256 (fast handshakes) and written 0600.

``cellhub certs init`` and ``cellhub certs issue`` make certificates for real hosts. With
no ``tls_*`` setting, a hub or worker uses the data dir's certs folder and makes the CA and
its own certificate (naming the loopback addresses only) there when they are missing: one
host needs no set-up.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cellhub.config import Config, ConfigError

VALIDITY = dt.timedelta(days=3650)
Role = Literal["hub", "worker"]
ROLES: tuple[Role, ...] = ("hub", "worker")
#: The extended key usage that marks each role; OpenSSL refuses a peer without its role's.
USAGE: dict[Role, x509.ObjectIdentifier] = {
    "hub": ExtendedKeyUsageOID.CLIENT_AUTH,
    "worker": ExtendedKeyUsageOID.SERVER_AUTH,
}
#: The names of the certificates made without set-up: good for one host only.
LOOPBACK = ["127.0.0.1", "localhost", "::1"]


@dataclass(frozen=True)
class CertificateDirectory:
    """Where ``cellhub certs`` keeps a deployment's CA and the certificates it issued."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    def cert(self, name: str) -> Path:
        return self.directory / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}.key"

    def credentials(self, name: str) -> Credentials:
        return Credentials(self.cert(name), self.key(name), self.ca_cert)


@dataclass(frozen=True)
class Credentials:
    """What one hub or worker needs for TLS: its certificate and key, and the CA it trusts."""

    cert: Path
    key: Path
    ca: Path


def _name(common_name: str, role: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cellhub"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.unlink(missing_ok=True)  # a key written before with a looser mode keeps its mode
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
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


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def create_ca(certs: CertificateDirectory, replace: bool = False) -> None:
    """Make the deployment's CA; raises FileExistsError if there is one, unless ``replace``
    (which makes every certificate the old CA signed useless)."""
    if certs.ca_cert.exists() and not replace:
        raise FileExistsError(f"{certs.ca_cert} exists")
    certs.directory.mkdir(parents=True, exist_ok=True)
    certs.directory.chmod(0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("cellhub deployment CA", "ca")
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_key(certs.ca_key, key)
    certs.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _subject_names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def issue_certificate(
    certs: CertificateDirectory, name: str, role: Role, hosts: list[str]
) -> Credentials:
    """Sign NAME.crt (and write NAME.key) for a ``role`` valid for ``hosts`` (IPs or DNS names)."""
    ca_key = _load_key(certs.ca_key)
    ca_cert = x509.load_pem_x509_certificate(certs.ca_cert.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(_name(f"cellhub {role} {name}", role), ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([USAGE[role]]), critical=False)
    )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(_subject_names(hosts)), critical=False
        )
    _write_key(certs.key(name), key)
    certs.cert(name).write_bytes(
        builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    )
    return certs.credentials(name)


def ensure_certificates(directory: Path) -> CertificateDirectory:
    """Create the CA and the loopback hub and worker certificates unless they exist."""
    certs = CertificateDirectory(directory)
    if not certs.ca_cert.exists():
        create_ca(certs)
    for role in ROLES:
        if not certs.cert(role).exists():
            issue_certificate(certs, role, role, LOOPBACK)
    return certs


def credentials(config: Config, role: Role) -> Credentials:
    """This hub's or worker's credentials: the ``tls_*`` settings, or, when none is set, the
    data dir's certs folder, made for one host when missing."""
    local = CertificateDirectory(config.data_path / "certs")
    if not (config.tls_certificate or config.tls_key or config.tls_ca):
        ensure_certificates(local.directory)
        return local.credentials(role)
    found = Credentials(
        Path(config.tls_certificate) if config.tls_certificate else local.cert(role),
        Path(config.tls_key) if config.tls_key else local.key(role),
        Path(config.tls_ca) if config.tls_ca else local.ca_cert,
    )
    named = {"tls_certificate": found.cert, "tls_key": found.key, "tls_ca": found.ca}
    for setting, path in named.items():
        if not path.is_file():
            raise ConfigError(f"{setting}: {path} does not exist (see `cellhub certs --help`)")
    return found


def _context(protocol: int, own: Credentials) -> ssl.SSLContext:
    ctx = ssl.SSLContext(protocol)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(own.cert, own.key)
    ctx.load_verify_locations(own.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def worker_ssl_context(own: Credentials) -> ssl.SSLContext:
    """Server side: require a hub's certificate (clientAuth) signed by the deployment CA."""
    return _context(ssl.PROTOCOL_TLS_SERVER, own)


def hub_ssl_context(own: Credentials) -> ssl.SSLContext:
    """Client side: present the hub's certificate; accept only a worker's certificate
    (serverAuth) from the deployment CA naming the host dialed (``check_hostname``)."""
    return _context(ssl.PROTOCOL_TLS_CLIENT, own)
