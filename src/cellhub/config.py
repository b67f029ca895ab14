"""One validated configuration for every cellhub service.

Each setting is declared once, with its default and a help text (a session limit in
:class:`~cellhub.sandbox.base.SandboxLimits`, which :class:`Config` extends); the same table
feeds the TOML file, the ``CELLHUB_*`` environment variables, the command-line
flags and the documentation (a test fails when a setting's row there differs from it).
Precedence, lowest first: defaults, TOML file, environment, flags.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cellhub.kernel_kinds import check_setting as check_kernels
from cellhub.login_providers import parse_providers
from cellhub.sandbox.base import SandboxLimits
from cellhub.sandbox.environment import parse_entries

ENV_PREFIX = "CELLHUB_"
#: One source of a CSP frame-ancestors list: a host or scheme source, or the keyword 'self'.
FRAME_SOURCE = re.compile(r"'self'|[^\s;,']+")
MiB = 2**20
#: An address: a host name or IPv4 address, or an IPv6 one in brackets, and a port.
HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}")
SIGNUP_POLICIES = ("open", "invitation", "admin")
#: One entry of group_max_kernels.
GROUP_LIMIT = re.compile(r"[^=\s]+=\d+")


def _setting(default: Any, help: str, shown: bool = True) -> Any:
    """A setting's field; ``shown=False`` keeps its value out of the configuration's repr (it
    holds secrets)."""
    if isinstance(default, list | dict):
        return field(
            default_factory=lambda: type(default)(default), metadata={"help": help}, repr=shown
        )
    return field(default=default, metadata={"help": help}, repr=shown)


def default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return os.path.join(base, "cellhub")


@dataclass(frozen=True)
class Config(SandboxLimits):
    """Every setting of a deployment. Field metadata ``help`` documents each one.

    The session limits are the fields of :class:`SandboxLimits`, declared there once,
    with the sandbox that enforces them; the settings table lists them after ``sandbox``.
    """

    host: str = _setting("127.0.0.1", "Address the hub listens on.")
    port: int = _setting(8888, "TCP port the hub listens on (0 picks a free port).")
    data_dir: str = _setting(
        "", "Directory for the database, certificates and session homes (default: XDG data dir)."
    )
    token: str = _setting(
        "",
        "Access token for the API and UI; when empty, one is generated on first start and kept "
        "in the data dir (`cellhub serve --new-token` replaces it).",
    )
    database_url: str = _setting(
        "", "SQLAlchemy database URL (default: a SQLite file in the data dir)."
    )
    log_shipper: str = _setting(
        "",
        "Unix socket of this host's rsyslog (`cellhub render rsyslog`, deploy/log_service.py) "
        "to which hubs and workers send their log records, besides stderr; empty: stderr only "
        "(see docs/operations.md).",
    )
    log_database_url: str = _setting(
        "",
        "SQLAlchemy URL of the PostgreSQL database the log service stores the records in, and "
        "`cellhub logs` reads (default: database_url, when that is PostgreSQL).",
    )
    log_store: str = _setting(
        "",
        "HOST:PORT where the central log service takes records by RELP, and every other "
        "host's rsyslog sends them; empty: this host's rsyslog writes them to the log database.",
    )
    workers: list[str] = _setting(
        [],
        "Worker addresses (host:port) a hub started with `cellhub hub` connects to, all "
        "active, for as long as it runs (or workers_file, not both).",
    )
    workers_file: str = _setting(
        "",
        "TOML file listing the workers a hub started with `cellhub hub` uses (name, address, "
        "weight, state); the hub watches it and adds, drains and removes workers as it "
        "changes (see docs/deployment.md).",
    )
    worker_host: str = _setting("127.0.0.1", "Address the worker listens on for hubs (mutual TLS).")
    worker_port: int = _setting(0, "TCP port of the worker (0 picks a free port).")
    worker_socket: str = _setting(
        "",
        "Unix socket the worker listens on instead of TCP, for a hub on the same host "
        "(address unix:PATH); `cellhub serve` uses worker.sock in the data dir.",
    )
    tls_certificate: str = _setting(
        "",
        "Certificate (PEM) this hub or worker shows the other across hosts, made with "
        "`cellhub certs issue` (default: hub.crt or worker.crt in the data dir's certs folder).",
    )
    tls_key: str = _setting(
        "",
        "Private key of tls_certificate (default: hub.key or worker.key beside it). With no "
        "tls_* setting, a missing certificate is made for the loopback addresses only.",
    )
    tls_ca: str = _setting(
        "",
        "The deployment's CA certificate, made with `cellhub certs init`: hubs and workers "
        "accept only each other's certificates signed by it (default: ca.crt in the data "
        "dir's certs folder).",
    )
    max_sessions: int = _setting(
        64,
        "Most simultaneous sessions per worker; a hub starts the next kernel on another worker, "
        "and answers HTTP 503 when every worker is full.",
    )
    load_interval: float = _setting(
        1.0,
        "Seconds between a worker's load reports (free sessions, memory headroom) to its hubs, "
        "which place each kernel on the least-loaded worker; a change of the free sessions is "
        "reported at once.",
    )
    worker_timeout: float = _setting(
        5.0,
        "Seconds a hub waits for a word from a connected worker (its load reports are the "
        "heartbeat) before it drops the connection and reports the worker's kernels dead "
        "(their host is unreachable); never less than three of the worker's load_interval.",
    )
    spare_sessions: int = _setting(
        2,
        "Pre-forked sessions kept ready so a new kernel starts in milliseconds; for a class "
        "that starts at once, each worker's share of the class (about 8 MiB each while idle; "
        "docs/deployment.md).",
    )
    preload: list[str] = _setting(
        [
            "numpy",
            "scipy",
            "matplotlib",
            "matplotlib.pyplot",
            "pandas",
            "sympy",
            "PIL.Image",
            "ipywidgets",
        ],
        "Modules the template process imports once, before forking sessions.",
    )
    kernels: list[str] = _setting(
        ["auto"],
        "Kernel kinds a worker offers, each with its own template process and spare sessions: "
        "python3, sage; 'auto' is python3, and sage too where Sage (passagemath) is installed "
        "(see docs/sage.md). The worker's start-up line says which it offers.",
    )
    merge_pages: bool = _setting(
        True,
        "Mark the template's memory for kernel same-page merging, so that identical pages "
        "sessions copied are shared again (needs ksmd running on the host; see "
        "docs/performance.md).",
    )
    huge_pages: bool = _setting(
        True,
        "Collapse the template's memory into transparent huge pages after the preload "
        "(Linux 6.1 or later), so that forking a session copies fewer page-table entries; "
        "page merging (merge_pages, with ksmd running) splits most of them again within a "
        "minute (see docs/performance.md).",
    )
    ksmd_pages_to_scan: int = _setting(
        250,
        "Pages the host's ksmd scans every 5 ms when a worker running as root starts it because "
        "it was stopped (0: leave ksmd alone); the workers on a host run it together, and the "
        "last one to exit puts the host's settings back.",
    )
    idle_timeout: float = _setting(
        3600.0,
        "Seconds a kernel may stay idle with no client attached before it is culled (0: never).",
    )
    cull_interval: float = _setting(30.0, "Seconds between checks for idle kernels.")
    output_cap: int = _setting(
        50 * MiB,
        "Bytes of stream output one cell may print before output is truncated (with a notice).",
    )
    flush_interval: float = _setting(
        0.01, "Seconds a session waits to coalesce printed output into one stream message."
    )
    max_stream_chunk: int = _setting(64 * 1024, "Largest stream message a session sends, in bytes.")
    flow_window: int = _setting(
        2 * MiB,
        "Bytes of a kernel's output in flight between worker and hub before the session is paused.",
    )
    replay_buffer: int = _setting(
        4 * MiB,
        "Bytes of each kernel's latest output kept so that reconnecting clients miss nothing.",
    )
    client_kernel_starts: int = _setting(
        60, "Kernel starts allowed per client and minute; more get HTTP 429 (0: unlimited)."
    )
    client_max_kernels: int = _setting(
        20, "Kernels one client may have running at once; more get HTTP 429 (0: unlimited)."
    )
    client_message_rate: int = _setting(
        500, "WebSocket messages per second one client may send before it is slowed (0: unlimited)."
    )
    max_message_size: int = _setting(
        16 * MiB, "Largest WebSocket message a client may send, in bytes."
    )
    max_body_size: int = _setting(
        1 * MiB, "Largest HTTP request body the REST API accepts, in bytes."
    )
    max_header_size: int = _setting(
        64 * 1024,
        "Largest request line and headers of an HTTP request (WebSocket upgrades included), "
        "in bytes; more gets HTTP 431 and the connection is closed.",
    )
    header_timeout: float = _setting(
        10.0,
        "Seconds a client has, from connecting or from the first byte of its next request, "
        "to send the complete request line and headers; then the connection is closed.",
    )
    forwarded_allow_ips: list[str] = _setting(
        [],
        "Addresses of the proxies (HAProxy) whose X-Forwarded-For and X-Forwarded-Proto the "
        "hub believes; empty: trust no proxy, every client is its own peer address.",
    )
    sandbox: str = _setting(
        "auto", "Session sandbox: 'auto' (linux when root, else rlimit), 'linux' or 'rlimit'."
    )
    session_environment: list[str] = _setting(
        [],
        "Environment variables sessions get besides the locale, PATH, TERM, TZ, HOME and a few "
        "PYTHON* ones: NAME (passed on from the service's environment) or NAME=VALUE. Nothing "
        "else of the service's environment reaches the worker, the template or a session; "
        "CELLHUB_* names are refused.",
    )
    uid_pool_start: int = _setting(
        200_000, "First uid (and gid) of the pool sessions run as (root only; no passwd entries)."
    )
    uid_pool_size: int = _setting(
        4096, "Number of uids in the pool: the most sessions one host can run at once (root only)."
    )
    permalink_max_code: int = _setting(
        64 * 1024, "Largest code a permalink may hold, in bytes; more gets HTTP 413."
    )
    permalink_rate: int = _setting(
        30, "Permalinks one client may create per minute; more get HTTP 429 (0: unlimited)."
    )
    cors_origins: list[str] = _setting(
        [],
        "Origins (https://example.org) whose pages may use the API and embed live cells; "
        "'*' allows any.",
    )
    allow_anonymous: bool = _setting(
        False,
        "Whether clients without the token may start and use kernels of their own "
        "(embedded cells, public pages) and create permalinks.",
    )
    anonymous_kernels_per_client: int = _setting(
        2, "Kernels one anonymous client may have running at once; more get HTTP 429."
    )
    anonymous_idle_timeout: float = _setting(
        600.0, "Seconds an anonymous kernel may stay idle with no client attached (0: never)."
    )
    anonymous_max_lifetime: float = _setting(
        3600.0, "Seconds an anonymous kernel may live at most, busy or not (0: no limit)."
    )
    login_lifetime: float = _setting(
        14 * 24 * 3600.0,
        "Seconds a browser stays logged in after logging in (with ?token=, a password or an "
        "identity provider; its session cookie and the login both expire then); a new token "
        "logs every browser out at once.",
    )
    login_idle_timeout: float = _setting(
        3 * 24 * 3600.0,
        "Seconds a login survives without a request from its browser (0: until login_lifetime).",
    )
    signup: str = _setting(
        "admin",
        "Who may make an account (see docs/users.md): 'open' (anyone, on the sign-up page), "
        "'invitation' (whoever has an invitation link an admin made) or 'admin' (only admins, "
        "with `cellhub users add` or the API).",
    )
    invitation_lifetime: float = _setting(
        7 * 24 * 3600.0, "Seconds an invitation link stays usable (once)."
    )
    login_attempts: int = _setting(
        10,
        "Failed password logins allowed per account, and per client address, each 15 minutes; "
        "more get HTTP 429 until the budget refills.",
    )
    user_max_kernels: int = _setting(
        5,
        "Kernels one account of role user may have running at once; more get HTTP 429 "
        "(0: unlimited; admins are held to client_max_kernels only).",
    )
    group_max_kernels: list[str] = _setting(
        [],
        "Per-group exceptions to user_max_kernels, as GROUP=N (an account's group is set with "
        "`cellhub users add --group`).",
    )
    user_memory: int = _setting(
        0,
        "Memory of each session of an account of role user, in bytes, when below `memory` "
        "(cgroup, root only; 0: `memory`).",
    )
    group_memory: list[str] = _setting([], "Per-group exceptions to user_memory, as GROUP=BYTES.")
    login_providers: dict[str, Any] = _setting(
        {},
        "OAuth 2 / OpenID Connect services people log in with, one TOML table each "
        "([login_providers.NAME]: preset github, google, dropbox or oidc, client_id, "
        "client_secret, issuer for oidc; see docs/users.md); in the environment or a flag, "
        "the same as JSON. Never logged.",
        shown=False,
    )
    frame_ancestors: list[str] = _setting(
        [],
        "Sources (https://lms.example.org, 'self') whose pages may show the hub's pages in a "
        "frame (the CSP frame-ancestors); empty: none may. Embedded cells need none of this.",
    )
    worksheet_versions: int = _setting(
        50,
        "Versions kept per worksheet besides its checkpoints; older ones are thinned so that "
        "history stays dense where it is recent and sparse where it is old.",
    )
    worksheet_max_size: int = _setting(
        16 * MiB,
        "Largest worksheet (.ipynb JSON, outputs included) a save may send, in bytes; more "
        "gets HTTP 413.",
    )
    user_files_quota: int = _setting(
        100 * MiB,
        "Most bytes a user's files may take (the files as they are now, not their history); "
        "an upload or a session's save that would take more is refused with a message "
        "naming this quota (HTTP 413).",
    )
    data_origins: list[str] = _setting(
        [],
        "Origins (https://example.org) the hub fetches an embedded cell's data files from "
        "(embed.js's data-cellhub-files): they are in the kernel's working directory before "
        "its first cell runs. Empty: pages cannot name data files.",
    )
    data_files_size: int = _setting(
        20 * MiB,
        "Most bytes the data files of one kernel start may take in all (HTTP 413 past it).",
    )
    cloud_origins: list[str] = _setting(
        [],
        "Origins (https://dav.example.org) of the WebDAV servers and S3 endpoints users may "
        "link a cloud folder at (Dropbox, Google Drive and Amazon S3 need none); empty: "
        "only those. Keeps users from making the hub a client of its own network.",
    )
    cloud_sync_timeout: float = _setting(
        300.0,
        "Most seconds one cloud folder pull or push may take (HTTP 504 past it).",
    )
    files_save_interval: float = _setting(
        60.0,
        "Seconds between saves of what a logged-in user's kernel wrote in its home back into "
        "the user's files (also saved when asked and when the kernel is shut down).",
    )
    page_kernel_grace: float = _setting(
        300.0,
        "Seconds the worksheet page's kernel lives idle once no page holds it (the page was "
        "closed), before it is shut down; a page that comes back in time reattaches to it "
        "(0: only idle_timeout applies).",
    )

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir or default_data_dir())

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'cellhub.sqlite'}"

    @property
    def log_db_url(self) -> str:
        """The log database; empty when there is none (the main one is not PostgreSQL)."""
        if self.log_database_url:
            return self.log_database_url
        return self.database_url if self.database_url.startswith("postgresql") else ""

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


class ConfigError(ValueError):
    """A setting has an unknown name or a value of the wrong type."""


def _in_reading_order() -> list[dataclasses.Field[Any]]:
    limits = dataclasses.fields(SandboxLimits)
    own = dataclasses.fields(Config)[len(limits) :]  # a dataclass lists inherited fields first
    after = [f.name for f in own].index("sandbox") + 1
    return [*own[:after], *limits, *own[after:]]


#: Every setting, in the order the flags' help and docs/configuration.md show them.
SETTINGS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in _in_reading_order()}


def _coerce(name: str, value: Any) -> Any:
    kind = SETTINGS[name].type
    try:
        if kind == "bool":
            if isinstance(value, str):
                if value.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                    raise ValueError(value)
                return value.lower() in {"1", "true", "yes"}
            return bool(value)
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "dict[str, Any]":
            parsed = orjson.loads(value) if isinstance(value, str) else value
            if not isinstance(parsed, dict):
                raise ValueError(type(parsed).__name__)
            return parsed
        if kind == "list[str]":
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            return [str(v) for v in value]
        return str(value)
    except (TypeError, ValueError) as exc:
        shown = "its value" if not SETTINGS[name].repr else repr(value)
        raise ConfigError(f"setting {name!r}: {shown} is not a valid {kind}") from exc


def _validate(cfg: Config) -> Config:
    if not 0 <= cfg.port <= 65535 or not 0 <= cfg.worker_port <= 65535:
        raise ConfigError("ports must be between 0 and 65535")
    if cfg.max_sessions < 1:
        raise ConfigError("max_sessions must be at least 1")
    if cfg.uid_pool_start < 1000 or cfg.uid_pool_size < 1:
        raise ConfigError("uid_pool_start must be at least 1000 and uid_pool_size at least 1")
    if cfg.load_interval <= 0 or cfg.worker_timeout <= 0:
        raise ConfigError("load_interval and worker_timeout must be positive")
    if cfg.spare_sessions < 0:
        raise ConfigError("spare_sessions must not be negative")
    if cfg.sandbox not in {"auto", "linux", "rlimit"}:
        raise ConfigError(f"sandbox must be 'auto', 'linux' or 'rlimit', not {cfg.sandbox!r}")
    if cfg.output_cap < 1024 or cfg.max_stream_chunk < 1024 or cfg.flow_window < 64 * 1024:
        raise ConfigError("output_cap, max_stream_chunk and flow_window are too small")
    try:
        check_kernels(cfg.kernels)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        parse_entries(cfg.session_environment)
    except ValueError as exc:
        raise ConfigError(f"session_environment: {exc}") from exc
    if cfg.max_header_size < 1024 or cfg.header_timeout <= 0:
        raise ConfigError("max_header_size must be at least 1024 and header_timeout positive")
    if cfg.log_shipper and not os.path.isabs(cfg.log_shipper):
        raise ConfigError("log_shipper is the absolute path of rsyslog's Unix socket")
    if cfg.log_store and not HOST_PORT.fullmatch(cfg.log_store):
        raise ConfigError(f"log_store is HOST:PORT, not {cfg.log_store!r}")
    if cfg.login_lifetime <= 0 or cfg.login_idle_timeout < 0:
        raise ConfigError("login_lifetime must be positive and login_idle_timeout not negative")
    if cfg.signup not in SIGNUP_POLICIES:
        raise ConfigError(f"signup must be one of {', '.join(SIGNUP_POLICIES)}, not {cfg.signup!r}")
    if not all(GROUP_LIMIT.fullmatch(e) for e in [*cfg.group_max_kernels, *cfg.group_memory]):
        raise ConfigError("group_max_kernels and group_memory take GROUP=N entries")
    try:
        parse_providers(cfg.login_providers)
    except ValueError as exc:
        raise ConfigError(f"login_providers: {exc}") from exc
    if cfg.worksheet_versions < 1 or cfg.worksheet_max_size < 64 * 1024:
        raise ConfigError("worksheet_versions must be at least 1, worksheet_max_size 65536")
    if cfg.page_kernel_grace < 0:
        raise ConfigError("page_kernel_grace must not be negative")
    if not all(FRAME_SOURCE.fullmatch(source) for source in cfg.frame_ancestors):
        raise ConfigError("frame_ancestors takes origins (https://example.org) or 'self' only")
    return cfg.replace(data_dir=os.path.abspath(cfg.data_dir)) if cfg.data_dir else cfg


def load_config(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the configuration from a TOML file, the environment and explicit overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        with open(path, "rb") as fh:
            values.update(tomllib.load(fh))
    env = os.environ if environ is None else environ
    for name in SETTINGS:
        if ENV_PREFIX + name.upper() in env:
            values[name] = env[ENV_PREFIX + name.upper()]
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    unknown = sorted(set(values) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    coerced = {k: _coerce(k, v) for k, v in values.items()}
    try:
        config = Config(**coerced)
    except ValueError as exc:  # SandboxLimits refuses a limit out of range
        raise ConfigError(str(exc)) from exc
    return _validate(config)
