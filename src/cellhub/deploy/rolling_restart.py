"""``cellhub restart SERVICE``: a service is stopped and started again; hubs, one at a time,
so that no client of the deployment sees an error: drain it at HAProxy, stop it, start it,
and wait until every HAProxy counts it UP.

1. **Drain** at each HAProxy on this host (its runtime API): no new connection goes to the
   hub; its open WebSockets go on. An HAProxy on another host, out of reach of the runtime
   API, stops sending to the hub at its next failed health check, and its ``retries`` and
   ``redispatch`` send a request that found it closed to another hub.
2. **Stop** (SIGTERM): the hub closes its clients' WebSockets; they reconnect through HAProxy
   to another hub with ``?resume=N`` and receive every message after N, exactly once (the
   UI and embed.js do so by themselves; docs/protocol.md).
3. **Start** and wait for its readiness (``/api/health``), then mark it ready again.
4. **Wait** until every HAProxy of the deployment counts it UP, from their stats pages,
   before the next hub goes: else the next drain could leave no hub in service.
"""

from __future__ import annotations

import contextlib
import time

from cellhub.deploy.deployment_file import Service
from cellhub.deploy.haproxy_runtime import HAProxyError, hub_states, set_hub_state
from cellhub.deploy.launcher import START_TIMEOUT, Launcher, LaunchError
from cellhub.deploy.services import SERVICE_KINDS, HAProxy, ServiceKind

#: Seconds between two looks at HAProxy's view of the hub.
POLL_INTERVAL = 0.2


def restart(launcher: Launcher, name: str) -> None:
    """Restart the host's service ``name``, or every service of the kind ``name``."""
    for service in launcher.matching(name):
        kind = SERVICE_KINDS[service.kind]
        if kind is None:
            raise LaunchError(f"{service}: cellhub does not run {service.kind} yet")
        if service.kind == "hub":
            restart_hub(launcher, service, kind)
        else:
            launcher.stop(service)
            launcher.start(service, kind)


def restart_hub(launcher: Launcher, hub: Service, kind: ServiceKind) -> None:
    site = launcher.site
    balancers = site.deployment.of_kind("haproxy")
    haproxy = HAProxy()
    sockets = [
        haproxy.admin_socket(lb, site)
        for lb in balancers
        if lb.host == site.host and launcher.daemon(lb).process() is not None
    ]
    for admin_socket in sockets:
        set_hub_state(admin_socket, hub.name, "drain")
        if launcher.verbose:
            launcher.say(f"{hub}: drained at {admin_socket}")
    launcher.stop(hub)
    try:
        launcher.start(hub, kind)
    finally:
        for admin_socket in sockets:
            with contextlib.suppress(HAProxyError):
                set_hub_state(admin_socket, hub.name, "ready")
    stats = [str(haproxy.balancer(lb, site).stats) for lb in balancers]
    wait_until_up(launcher, hub, stats)


def wait_until_up(launcher: Launcher, hub: Service, stats: list[str]) -> None:
    """Until each HAProxy (stats at HOST:PORT) counts ``hub`` UP; one that does not answer
    is not waited for (it is down, or on a host out of reach: it says so)."""
    deadline = time.monotonic() + START_TIMEOUT
    waiting = list(stats)
    while waiting:
        try:
            state = hub_states(waiting[0]).get(hub.name, "unknown")
        except HAProxyError as exc:
            launcher.say(f"{hub}: not waiting for HAProxy: {exc}")
            waiting.pop(0)
            continue
        if state == "UP":
            waiting.pop(0)
            continue
        if time.monotonic() > deadline:
            raise LaunchError(f"{hub}: HAProxy at {waiting[0]} still counts it {state}")
        time.sleep(POLL_INTERVAL)
    if stats:
        launcher.say(f"{hub}: in service at {len(stats)} HAProxy")
