"""The configurations of the deployment's other daemons, rendered from Jinja2 templates
(``deploy/templates/``) and typed inputs: nothing in them is edited by hand.

- :class:`LoadBalancer` → ``haproxy.cfg``: the hubs behind ``balance leastconn``, each
  checked at its readiness endpoint (hub/health_api.py), timeouts fit for WebSockets that
  stay open for hours, the client's address in ``X-Forwarded-For`` (which the hubs believe
  from the HAProxies' addresses only: their ``forwarded_allow_ips``), and stats and a
  Prometheus endpoint on a port of their own.
- :class:`VirtualRouter` → ``keepalived.conf``: two HAProxy hosts share one virtual address
  by VRRP; the host whose HAProxy stops answering gives the address up, and the other takes
  it within seconds.
- :class:`LogShipper` → ``rsyslog.conf``: one rsyslogd of the log service
  (deploy/log_service.py): it takes the services' records on a Unix socket and the other
  hosts' by RELP, and either forwards them by RELP to the central one or writes them to
  the log database; a disk-assisted queue holds them while the next hop is away.
- :class:`StaticServer` → ``nginx.conf``: nginx serving the package's static folder at
  ``/static/`` (and nothing else), each file with the type of its kind (:data:`STATIC_TYPES`,
  no other), the hub's security headers, compressed (gzip; brotli too where Debian's module
  is installed), and cached by browsers for a year when its address names its content (a
  hashed font, a ``?v=`` URL: hub/static_files.py), else revalidated on each use. It runs
  as any user, in the foreground, its pid file, temporary files and error log in one folder.

The inputs are checked when they are made (:class:`ValueError`, in words): a configuration
file has no escaping, so a name with a space or a line break would be a directive of its
own. Every daemon of a deployment gets its configuration from here — ``cellhub render``
today, the launcher later — and its command line from :func:`haproxy_argv`,
:func:`keepalived_argv` and :func:`nginx_argv`, which keep several of them apart on one
host (their pid files).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from sqlalchemy.engine import make_url

from cellhub.hub.security_headers import ALWAYS, OTHER_POLICY
from cellhub.hub.static_files import STATIC_DIR, STATIC_URL

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,  # configuration files, not HTML: the inputs are checked instead
)
#: A name in a configuration: a server, a VRRP instance, an interface.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}")
LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
#: A DNS name (an address that is not an IP address), at most 253 characters.
DNS_NAME = re.compile(rf"{LABEL}(\.{LABEL})*")
#: A file path or URL path: no spaces, quotes or line breaks.
PATH = re.compile(r"[^\s'\"#{};$]+")
#: The kinds of file cellhub ships in its static folder, and the only types nginx names: a
#: new kind of file needs its line here (tests/deploy/test_nginx.py fails until it has one).
STATIC_TYPES = {
    "css": "text/css",
    "js": "text/javascript",
    "svg": "image/svg+xml",
    "txt": "text/plain",
    "woff2": "font/woff2",
}
#: Where Debian's nginx modules are; its libnginx-mod-http-brotli-* packages put brotli there.
NGINX_MODULES = Path("/usr/lib/nginx/modules")
BROTLI_MODULES = ("ngx_http_brotli_filter_module.so", "ngx_http_brotli_static_module.so")


def checked_name(name: str, what: str) -> str:
    if not NAME.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not a name (letters, digits and ._@-)")
    return name


def checked_path(path: str, what: str) -> str:
    if not PATH.fullmatch(path):
        raise ValueError(f"{what} {path!r} has spaces, quotes or braces")
    return path


@dataclass(frozen=True)
class Endpoint:
    """A host (IP address or DNS name) and a TCP port."""

    host: str
    port: int

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not between 1 and 65535")
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            if len(self.host) > 253 or not DNS_NAME.fullmatch(self.host):
                raise ValueError(f"{self.host!r} is neither an IP address nor a DNS name") from None

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """``HOST:PORT``, an IPv6 address in brackets: ``[2001:db8::1]:8888``."""
        host, colon, port = text.rpartition(":")
        if not colon or not port.isdigit():
            raise ValueError(f"{text!r} is not HOST:PORT")
        return cls(host.removeprefix("[").removesuffix("]"), int(port))

    def __str__(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{shown}:{self.port}"


@dataclass(frozen=True)
class Server:
    """A named server of a backend: a hub, or nginx."""

    name: str
    endpoint: Endpoint

    def __post_init__(self) -> None:
        checked_name(self.name, "server name")

    @classmethod
    def parse(cls, text: str, default_name: str) -> Server:
        """``[NAME=]HOST:PORT``."""
        name, equals, where = text.rpartition("=")
        return cls(name if equals else default_name, Endpoint.parse(where))


@dataclass(frozen=True)
class LoadBalancer:
    """One HAProxy in front of the hubs.

    ``certificate``: a PEM file with the certificate chain and key; HAProxy then ends TLS
    (and speaks HTTP/2 to browsers), and tells hubs ``X-Forwarded-Proto: https``. ``static``:
    nginx serving ``/static/``, when there is one; else the hubs serve it. ``log``: a syslog
    target (``/dev/log``, ``127.0.0.1:514``, ``stdout``), none by default. ``admin_socket``:
    HAProxy's runtime API (drain a hub before restarting it), none by default.
    """

    hubs: Sequence[Server]
    bind: Endpoint = Endpoint("0.0.0.0", 80)
    stats: Endpoint = Endpoint("127.0.0.1", 8404)
    certificate: str = ""
    static: Endpoint | None = None
    health_path: str = "/api/health"
    log: str = ""
    admin_socket: str = ""

    def __post_init__(self) -> None:
        if not self.hubs:
            raise ValueError("HAProxy needs at least one hub")
        names = [hub.name for hub in self.hubs]
        if len(set(names)) != len(names):
            raise ValueError(f"hub names must differ: {', '.join(names)}")
        if not self.health_path.startswith("/"):
            raise ValueError(f"the health path {self.health_path!r} must start with /")
        for value, what in (
            (self.certificate, "certificate"),
            (self.health_path, "health path"),
            (self.log, "log target"),
            (self.admin_socket, "admin socket"),
        ):
            if value:
                checked_path(value, what)


@dataclass(frozen=True)
class VirtualRouter:
    """One keepalived: holds ``virtual_address`` while this host's HAProxy answers at
    ``check`` (its stats endpoint), and while no peer of higher ``priority`` does.

    ``name``: this load balancer's name (keepalived's router_id, in its logs).
    ``router_id``: the VRRP virtual router id (1 to 255), the same on every peer and unique on
    the network. ``password``: VRRP's simple password (at most 8 characters, sent in
    clear: it keeps two deployments on one network apart, it is no security). ``peers``:
    the other keepalived hosts' addresses, for unicast VRRP (for networks without
    multicast, such as most clouds); none: multicast. ``source``: this host's address
    for unicast.
    """

    name: str
    interface: str
    virtual_address: str
    router_id: int
    priority: int
    password: str
    check: Endpoint = Endpoint("127.0.0.1", 8404)
    peers: Sequence[str] = ()
    source: str = ""

    def __post_init__(self) -> None:
        checked_name(self.name, "load balancer name")
        checked_name(self.interface, "interface")
        ipaddress.ip_interface(self.virtual_address)  # raises ValueError, saying why
        for address in [*self.peers, *([self.source] if self.source else [])]:
            ipaddress.ip_address(address)
        if not 1 <= self.router_id <= 255:
            raise ValueError(f"the virtual router id {self.router_id} is not between 1 and 255")
        if not 1 <= self.priority <= 254:
            raise ValueError(f"the priority {self.priority} is not between 1 and 254")
        if not 1 <= len(self.password) <= 8 or not NAME.fullmatch(self.password):
            raise ValueError("the VRRP password is 1 to 8 letters, digits or ._@-")


#: What a value between double quotes in rsyslog's configuration may hold: no quote,
#: backslash or line break (it has escapes, but nothing here needs them).
RSYSLOG_STRING = re.compile(r'[^"\\\n\r]*')


@dataclass(frozen=True)
class LogDatabase:
    """Where rsyslog's ompgsql writes: a PostgreSQL server (``host`` may be the directory
    of its Unix socket), database, user and password."""

    host: str
    port: int
    name: str
    user: str
    password: str = ""

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not between 1 and 65535")
        for value, what in ((self.host, "host"), (self.name, "database"), (self.user, "user")):
            checked_path(value, f"the log database's {what}")
        if not RSYSLOG_STRING.fullmatch(self.password):
            raise ValueError("the log database's password has a quote, a backslash or a line break")

    @classmethod
    def from_url(cls, url: str) -> LogDatabase:
        """From a SQLAlchemy URL (``postgresql+psycopg://user:password@host:port/name``, or
        ``?host=/socket/dir``)."""
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise ValueError("the log database must be PostgreSQL (rsyslog's ompgsql)")
        host = parsed.query.get("host") or parsed.host or "localhost"
        return cls(
            str(host),
            parsed.port or 5432,
            parsed.database or "postgres",
            parsed.username or "postgres",
            parsed.password or "",
        )


@dataclass(frozen=True)
class LogShipper:
    """One rsyslogd of the log service, and where its records come from and go.

    ``work_dir``: its own directory (queues, state). Inputs, one or both: ``socket``, the
    Unix socket this host's services send to (their ``log_shipper``); ``listen``, where it
    takes the other hosts' records by RELP (the deployment's ``log_store``). Output, one
    of: ``forward``, the central rsyslog's RELP address; ``database``, the log database.
    ``max_disk_queue``: most disk a waiting queue may take (rsyslog's size: 1g, 500m).
    """

    work_dir: str
    socket: str = ""
    listen: Endpoint | None = None
    forward: Endpoint | None = None
    database: LogDatabase | None = None
    max_disk_queue: str = "1g"

    def __post_init__(self) -> None:
        for value, what in ((self.work_dir, "work dir"), (self.socket, "socket")):
            if value:
                checked_path(value, what)
        if not self.work_dir.startswith("/") or (self.socket and not self.socket.startswith("/")):
            raise ValueError("the work dir and the socket must be absolute paths")
        if not self.socket and self.listen is None:
            raise ValueError("rsyslog needs an input: a socket, a RELP address, or both")
        if (self.forward is None) == (self.database is None):
            raise ValueError("rsyslog either forwards to the log store or writes the database")
        if not re.fullmatch(r"[0-9]+[kmg]?", self.max_disk_queue):
            raise ValueError(f"{self.max_disk_queue!r} is not a size (1g, 500m)")


def installed_brotli() -> tuple[Path, ...]:
    """Debian's brotli modules for nginx, when installed (``apt-get install
    libnginx-mod-http-brotli-filter libnginx-mod-http-brotli-static``); else none."""
    found = tuple(NGINX_MODULES / name for name in BROTLI_MODULES)
    return found if all(module.is_file() for module in found) else ()


@dataclass(frozen=True)
class StaticServer:
    """One nginx serving ``static_dir`` (the installed package's, by default) at ``/static/``
    on ``bind``, with its pid file, temporary files and error log in ``run_dir``.

    ``modules``: nginx modules to load; brotli compression is on when they are Debian's
    brotli modules (:func:`installed_brotli`, which is the default: brotli where installed).
    """

    bind: Endpoint
    run_dir: Path
    static_dir: Path = STATIC_DIR
    modules: Sequence[Path] = field(default_factory=installed_brotli)

    def __post_init__(self) -> None:
        for path, what in (
            (self.run_dir, "run dir"),
            (self.static_dir, "static dir"),
            *((module, "module") for module in self.modules),
        ):
            if not path.is_absolute():
                raise ValueError(f"the {what} {str(path)!r} is not an absolute path")
            checked_path(str(path), what)

    @property
    def brotli(self) -> bool:
        return {module.name for module in self.modules} >= set(BROTLI_MODULES)

    @property
    def config(self) -> Path:
        return self.run_dir / "nginx.conf"


def render_nginx(server: StaticServer) -> str:
    return TEMPLATES.get_template("nginx.conf.j2").render(
        site=server,
        url=STATIC_URL,
        types=STATIC_TYPES,
        compressible=sorted({STATIC_TYPES[kind] for kind in ("css", "js", "svg", "txt")}),
        headers={**ALWAYS, "content-security-policy": OTHER_POLICY},
    )


def render_haproxy(balancer: LoadBalancer) -> str:
    return TEMPLATES.get_template("haproxy.cfg.j2").render(lb=balancer)


def render_keepalived(router: VirtualRouter) -> str:
    return TEMPLATES.get_template("keepalived.conf.j2").render(vr=router)


def render_rsyslog(shipper: LogShipper) -> str:
    return TEMPLATES.get_template("rsyslog.conf.j2").render(shipper=shipper)


def haproxy_argv(config: Path, pid_file: Path, executable: str = "haproxy") -> list[str]:
    """HAProxy in the foreground, as master and worker (so that SIGKILL of the pid in
    ``pid_file`` ends the worker too), with its pid where a supervisor finds it."""
    return [executable, "-W", "-db", "-f", str(config), "-p", str(pid_file)]


def keepalived_argv(
    config: Path, run_dir: Path, name: str, executable: str = "keepalived"
) -> list[str]:
    """keepalived in the foreground, VRRP only, logging to stderr, with pid files named
    after ``name`` in ``run_dir``: its default ones in /run collide when several run on
    one host (in network namespaces, say)."""
    return [
        executable,
        "--dont-fork",
        "--log-console",
        "--vrrp",
        "--use-file",
        str(config),
        "--pid",
        str(run_dir / f"keepalived-{checked_name(name, 'name')}.pid"),
        "--vrrp_pid",
        str(run_dir / f"keepalived-{name}-vrrp.pid"),
    ]


def nginx_argv(server: StaticServer, executable: str = "nginx") -> list[str]:
    """nginx with the configuration :func:`write_nginx_config` wrote, its prefix and the log
    of its start (before it reads the configuration) in the server's run dir."""
    return [
        executable,
        "-c",
        str(server.config),
        "-p",
        f"{server.run_dir}/",
        "-e",
        str(server.run_dir / "nginx-error.log"),
    ]


def write_nginx_config(server: StaticServer) -> Path:
    """The run dir made and ``nginx.conf`` written in it."""
    server.run_dir.mkdir(parents=True, exist_ok=True)
    server.config.write_text(render_nginx(server))
    return server.config
