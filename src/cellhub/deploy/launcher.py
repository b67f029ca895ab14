"""``cellhub up``, ``down``, ``status`` and ``restart``: the services the deployment file puts
on one host, run as daemons (deploy/daemon.py) with pid files and logs under its ``run_dir``.

``up`` starts them in order (database, logs, workers, hubs, nginx, HAProxy, keepalived: each
needs the ones before) and waits until each is healthy before the next, so that a failure
stops at the service that failed, with the end of its log. ``down`` stops them in reverse.
A service already running is left as it is; one the deployment file names but cellhub
cannot run yet is said so. Quiet by default: one line per service; ``verbose`` adds the
command, the log file, and what is not healthy yet while waiting.

``restart`` is deploy/rolling_restart.py's: hubs one at a time, each drained at HAProxy
first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from cellhub.deploy.daemon import Daemon, uptime
from cellhub.deploy.deployment_file import Service
from cellhub.deploy.services import SERVICE_KINDS, ServiceKind
from cellhub.deploy.site import Site

#: Seconds a service has to become healthy after it started.
START_TIMEOUT = 120.0
#: Seconds between two health checks while waiting.
CHECK_INTERVAL = 0.2
#: Seconds between two reports of what is not healthy yet (verbose).
REPORT_INTERVAL = 5.0


class LaunchError(RuntimeError):
    """A service did not start, or not healthy; the message says which and why."""


@dataclass(frozen=True)
class ServiceStatus:
    service: Service
    pid: int | None
    health: str
    uptime: float | None
    version: str


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class Launcher:
    def __init__(self, site: Site, verbose: bool = False, say: Callable[[str], None] = print):
        self.site = site
        self.verbose = verbose
        self.say = say

    def services(self) -> list[Service]:
        return self.site.deployment.on_host(self.site.host)

    def daemon(self, service: Service) -> Daemon:
        return Daemon(self.site.pid_file(service), self.site.log_file(service))

    def up(self) -> None:
        for service in self.services():
            kind = SERVICE_KINDS[service.kind]
            if kind is None:
                self.say(f"{service}: not started: cellhub does not run {service.kind} yet")
                continue
            running = self.daemon(service).process()
            if running is None:
                self.start(service, kind)
                continue
            self.wait_healthy(service, kind, running, time.monotonic())
            self.say(f"{service}: already running, pid {running.pid}")

    def start(self, service: Service, kind: ServiceKind) -> None:
        began = time.monotonic()
        kind.prepare(service, self.site)
        launch = kind.launch(service, self.site)
        daemon = self.daemon(service)
        if self.verbose:
            self.say(f"{service}: {' '.join(launch.argv)}\n{service}: log: {daemon.log_file}")
        env = {**kind.base_environment(self.site), **launch.env}
        process = daemon.start(launch.argv, env, launch.user, self.site.folder(service))
        self.wait_healthy(service, kind, process, began)
        took = time.monotonic() - began
        self.say(f"{service}: started, pid {process.pid}, healthy in {took:.1f} s")

    def wait_healthy(
        self, service: Service, kind: ServiceKind, process: psutil.Process, began: float
    ) -> None:
        """Until the service is healthy; :class:`LaunchError` (the process stopped) if it
        exits or is not healthy :data:`START_TIMEOUT` seconds after ``began``."""
        daemon = self.daemon(service)
        reported = time.monotonic()
        while (problem := kind.problem(service, self.site)) is not None:
            if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
                daemon.forget()
                raise LaunchError(
                    f"{service}: exited while starting; the end of {daemon.log_file}:\n"
                    f"{daemon.tail()}"
                )
            if time.monotonic() > began + START_TIMEOUT:
                daemon.stop(kind.stop_signal)
                raise LaunchError(f"{service}: not healthy after {START_TIMEOUT:g} s: {problem}")
            if self.verbose and time.monotonic() - reported > REPORT_INTERVAL:
                self.say(f"{service}: waiting: {problem}")
                reported = time.monotonic()
            time.sleep(CHECK_INTERVAL)

    def stop(self, service: Service) -> None:
        kind = SERVICE_KINDS[service.kind]
        if kind is None:
            return
        daemon = self.daemon(service)
        running = daemon.process()
        began = time.monotonic()
        if daemon.stop(kind.stop_signal):
            took = time.monotonic() - began
            self.say(f"{service}: stopped, pid {running.pid if running else '?'}, in {took:.1f} s")
        elif self.verbose:
            self.say(f"{service}: not running")

    def down(self) -> None:
        for service in reversed(self.services()):
            self.stop(service)

    def status(self) -> list[ServiceStatus]:
        rows = []
        for service in self.services():
            kind = SERVICE_KINDS[service.kind]
            if kind is None:
                rows.append(ServiceStatus(service, None, "not run by cellhub", None, ""))
                continue
            process = self.daemon(service).process()
            if process is None:
                rows.append(ServiceStatus(service, None, "stopped", None, kind.version()))
                continue
            problem = kind.problem(service, self.site)
            health = "healthy" if problem is None else f"unhealthy: {problem}"
            ran = uptime(process.pid)
            rows.append(ServiceStatus(service, process.pid, health, ran, kind.version()))
        return rows

    def matching(self, name: str) -> list[Service]:
        """The host's services named ``name``, or of the kind ``name``."""
        found = [s for s in self.services() if s.name == name] or [
            s for s in self.services() if s.kind == name
        ]
        if not found:
            names = ", ".join(s.name for s in self.services())
            raise LaunchError(f"no service {name!r} on {self.site.host} (it runs {names})")
        return found


def status_table(rows: list[ServiceStatus]) -> str:
    header = ("SERVICE", "HOST", "PID", "HEALTH", "UPTIME", "VERSION")
    lines = [
        (
            row.service.name,
            row.service.host,
            str(row.pid or "-"),
            row.health,
            duration(row.uptime),
            row.version or "-",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *lines]
    )
