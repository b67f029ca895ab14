"""What the services of one deployment share on a host: their folders, the hubs' and workers'
settings, the access token, the database's address and password, and the certificates.

Everything lives under the deployment file's ``run_dir``:

- ``NAME/``: a service's own folder (data dir, configuration it is rendered);
- ``pids/NAME.pid`` (with ``NAME.start``) and ``logs/NAME.log``: the daemons the launcher
  started;
- ``secrets/``: the access token and PostgreSQL's password (0600 in a 0700 folder);
- ``certs/``: the CA and each hub's and worker's certificate, unless the settings file names
  its own (``tls_*``);
- ``workers.toml``: the workers file every hub watches (docs/deployment.md).

A deployment on several hosts shares ``secrets/`` and ``certs/`` by copying them to each host
before ``cellhub up`` (docs/operations.md); on one host they are simply made.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cellhub.config import Config, load_config
from cellhub.deploy import certificates
from cellhub.deploy.access_token import access_token
from cellhub.deploy.deployment_file import Deployment, Service
from cellhub.deploy.postgres import SUPERUSER


def private_folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def kept_secret(path: Path) -> str:
    """The secret in ``path``, made (0600) on first use."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    private_folder(path.parent)
    value = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value


@dataclass
class Site:
    deployment: Deployment
    #: The host this command acts on.
    host: str

    @property
    def run_dir(self) -> Path:
        return self.deployment.run_dir

    def folder(self, service: Service) -> Path:
        return private_folder(self.run_dir / service.name)

    def pid_file(self, service: Service) -> Path:
        return self.run_dir / "pids" / f"{service.name}.pid"

    def log_file(self, service: Service) -> Path:
        return self.run_dir / "logs" / f"{service.name}.log"

    @cached_property
    def settings(self) -> Config:
        """The hubs' and workers' settings file (environment variables do not count: the
        services get the file, not this command's environment)."""
        path = self.deployment.settings
        return load_config(path, environ={})

    def token(self) -> str:
        return access_token(private_folder(self.run_dir / "secrets"), self.settings.token)

    def database_password(self) -> str:
        return kept_secret(self.run_dir / "secrets" / "postgresql.password")

    def database_url(self) -> str:
        """The hubs' database: the file's ``database_url``, its postgresql service's, or ""
        (each hub's SQLite file, for a deployment of one hub)."""
        if self.deployment.database_url:
            return self.deployment.database_url
        for server in self.deployment.of_kind("postgresql"):
            address = self.deployment.address(server)
            shown = f"[{address}]" if ":" in address else address
            password = self.database_password()
            return f"postgresql+psycopg://{SUPERUSER}:{password}@{shown}:{server.port}/cellhub"
        return self.settings.database_url

    def tls_flags(self, service: Service) -> list[str]:
        """The hub's or worker's certificate flags: none when the settings file names its
        own; else the deployment's CA (made when missing) and the service's certificate."""
        config = self.settings
        if config.tls_certificate or config.tls_key or config.tls_ca:
            return []
        folder = certificates.CertificateDirectory(private_folder(self.run_dir / "certs"))
        if not folder.ca_cert.exists():
            certificates.create_ca(folder)
        role: certificates.Role = "worker" if service.kind == "worker" else "hub"
        if not folder.cert(service.name).exists():
            hosts = [self.deployment.address(service), *certificates.LOOPBACK]
            certificates.issue_certificate(folder, service.name, role, hosts)
        made = folder.credentials(service.name)
        return [
            "--tls-certificate",
            str(made.cert),
            "--tls-key",
            str(made.key),
            "--tls-ca",
            str(made.ca),
        ]

    def workers_file(self) -> Path:
        """The workers file of every hub: the deployment's workers, all active."""
        path = self.run_dir / "workers.toml"
        tables = []
        for worker in self.deployment.of_kind("worker"):
            address = self.deployment.address(worker)
            shown = f"[{address}]" if ":" in address else address
            tables.append(
                f'[[worker]]\nname = "{worker.name}"\naddress = "{shown}:{worker.port}"\n'
            )
        text = "# Written by `cellhub up` from the deployment file.\n\n" + "\n".join(tables)
        if not path.exists() or path.read_text() != text:
            partial = path.with_name(".workers.toml.new")
            partial.write_text(text)
            os.replace(partial, path)
        return path
