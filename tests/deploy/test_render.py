"""``cellhub render haproxy|keepalived|rsyslog`` (deploy/render.py): what it prints is a
configuration the daemons themselves accept as it is (``haproxy -c``, ``keepalived
--config-test``, ``rsyslogd -N1``), and inputs that would break out of their place in the
file are refused.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cellhub.deploy import certificates
from cellhub.deploy.render import Endpoint, LoadBalancer, Server, render_haproxy
from tests.deploy.haproxy import HAPROXY, needs_haproxy
from tests.deploy.rsyslog import RSYSLOGD, needs_rsyslog

KEEPALIVED = shutil.which("keepalived", path="/usr/sbin:/usr/bin:/sbin:/bin")


def cellhub_render(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cellhub", "render", *argv], capture_output=True, text=True
    )


def rendered(*argv: str) -> str:
    done = cellhub_render(*argv)
    assert done.returncode == 0, done.stderr
    return done.stdout


def tls_bundle(directory: Path) -> Path:
    """A certificate chain and key in one PEM file, as HAProxy's ``crt`` takes them."""
    folder = certificates.CertificateDirectory(directory)
    certificates.create_ca(folder)
    made = certificates.issue_certificate(folder, "lb", "worker", ["127.0.0.1"])
    bundle = directory / "lb.pem"
    bundle.write_bytes(made.cert.read_bytes() + made.key.read_bytes())
    return bundle


@needs_haproxy
@pytest.mark.parametrize("tls", [False, True], ids=["http", "tls"])
def test_haproxy_accepts_the_rendered_configuration(tmp_path: Path, tls: bool) -> None:
    argv = ["--hub", "10.0.0.11:8888", "--hub", "hub-b=[2001:db8::12]:8888", "--static"]
    argv += ["10.0.0.20:8080", "--log", "stdout", "--admin-socket", str(tmp_path / "admin")]
    if tls:
        argv += ["--certificate", str(tls_bundle(tmp_path / "certs")), "--bind", "0.0.0.0:443"]
    config = tmp_path / "haproxy.cfg"
    config.write_text(rendered("haproxy", *argv))
    assert HAPROXY is not None
    checked = subprocess.run([HAPROXY, "-c", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr + config.read_text()
    assert "[WARNING]" not in checked.stdout + checked.stderr
    text = config.read_text()
    assert "server hub1 10.0.0.11:8888" in text and "server hub-b [2001:db8::12]:8888" in text
    assert f"X-Forwarded-Proto {'https' if tls else 'http'}" in text


def section(config: str, header: str) -> list[str]:
    """The directives of one section (``backend hubs``), comments left out."""
    lines = config.splitlines()
    start = lines.index(header) + 1
    body = []
    for line in lines[start:]:
        if not line.startswith(" "):
            break
        if not line.strip().startswith("#"):
            body.append(line.strip())
    return body


def test_hubs_are_balanced_by_connections_and_checked_for_readiness() -> None:
    hubs = [Server("a", Endpoint("192.0.2.1", 8888)), Server("b", Endpoint("hub-b.example", 80))]
    config = render_haproxy(LoadBalancer(hubs))
    assert section(config, "backend hubs") == [
        "balance leastconn",
        "option httpchk",
        "http-check send meth GET uri /api/health ver HTTP/1.1 hdr Host localhost",
        "http-check expect status 200",
        "default-server check inter 2s fall 2 rise 2",
        "server a 192.0.2.1:8888",
        "server b hub-b.example:80",
    ]
    assert "timeout tunnel 1h" in section(config, "defaults")
    front = section(config, "frontend cellhub")
    assert front.index("http-request del-header X-Forwarded-For") < front.index("option forwardfor")
    assert "http-request use-service prometheus-exporter if { path /metrics }" in section(
        config, "frontend stats"
    )


KEEPALIVED_INPUTS = {
    "name": "lb1",
    "interface": "eth0",
    "virtual-address": "192.0.2.100/24",
    "router-id": "51",
    "priority": "150",
    "password": "s3cret",
}


def keepalived_flags(**changed: str) -> list[str]:
    """``keepalived`` and its flags: the inputs above, with ``changed`` ones."""
    inputs = {**KEEPALIVED_INPUTS, **{k.replace("_", "-"): v for k, v in changed.items()}}
    return ["keepalived", *itertools.chain.from_iterable((f"--{k}", v) for k, v in inputs.items())]


def usable_interface() -> str | None:
    """An interface keepalived may run VRRP on (anything but loopback)."""
    names = sorted(os.listdir("/sys/class/net"))
    return next((name for name in names if name != "lo"), None)


@pytest.mark.skipif(KEEPALIVED is None, reason="keepalived is not installed")
@pytest.mark.skipif(usable_interface() is None, reason="no network interface but loopback")
@pytest.mark.parametrize("unicast", [False, True], ids=["multicast", "unicast"])
def test_keepalived_accepts_the_rendered_configuration(tmp_path: Path, unicast: bool) -> None:
    interface = usable_interface()
    assert interface is not None and KEEPALIVED is not None
    argv = keepalived_flags(interface=interface)
    if unicast:
        argv += ["--source", "192.0.2.11", "--peer", "192.0.2.12"]
    config = tmp_path / "keepalived.conf"
    config.write_text(rendered(*argv))
    checked = subprocess.run(
        [KEEPALIVED, "--config-test", "--use-file", str(config)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr + config.read_text()
    assert ("unicast_peer" in config.read_text()) == unicast


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["haproxy", "--hub", "a b=10.0.0.1:80"], "server name 'a b' is not a name"),
        (["haproxy", "--hub", "10.0.0.1:80\nuser root"], "is not HOST:PORT"),
        (["haproxy", "--hub", "10.0.0.1:0"], "port 0 is not between 1 and 65535"),
        (["haproxy", "--hub", "bad_host:80"], "neither an IP address nor a DNS name"),
        (["haproxy", "--hub", "a=10.0.0.1:80", "--hub", "a=10.0.0.2:80"], "must differ"),
        (["haproxy", "--hub", "10.0.0.1:80", "--log", "x y"], "has spaces"),
        (keepalived_flags(router_id="0"), "router id 0 is not between 1 and 255"),
        (keepalived_flags(password="123456789"), "1 to 8 letters"),
        (keepalived_flags(virtual_address="not-an-ip"), "does not appear to be an IPv4 or IPv6"),
    ],
)
def test_inputs_out_of_place_are_refused(argv: list[str], said: str) -> None:
    done = cellhub_render(*argv)
    assert done.returncode != 0 and done.stdout == ""
    assert said in done.stderr, done.stderr


RSYSLOG_ROLES = {
    "store": [
        "--socket",
        "{dir}/log.sock",
        "--listen",
        "127.0.0.1:2514",
        "--database-url",
        "postgresql+psycopg://logs:s3cret@db.example:5433/cellhub_logs",
    ],
    "forwarder": ["--socket", "{dir}/log.sock", "--forward", "logs.example:2514"],
    "relay": ["--listen", "0.0.0.0:2514", "--forward", "10.0.0.5:2514", "--max-disk-queue", "5g"],
}


@needs_rsyslog
@pytest.mark.parametrize("role", sorted(RSYSLOG_ROLES))
def test_rsyslogd_accepts_the_rendered_configuration(tmp_path: Path, role: str) -> None:
    argv = [arg.format(dir=tmp_path) for arg in RSYSLOG_ROLES[role]]
    config = tmp_path / "rsyslog.conf"
    config.write_text(rendered("rsyslog", "--work-dir", str(tmp_path), *argv))
    assert RSYSLOGD is not None
    checked = subprocess.run([RSYSLOGD, "-N1", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr + config.read_text()
    text = config.read_text()
    assert text.count('queue.saveOnShutdown="on"') == 1
    assert text.count('action.resumeRetryCount="-1"') == 1
    assert ('type="ompgsql"' in text) == (role == "store")
    assert ('type="omrelp"' in text) == (role != "store")


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--socket", "/s"], "either forwards to the log store or writes the database"),
        (["--forward", "10.0.0.5:2514"], "needs an input"),
        (["--socket", "relative.sock", "--forward", "h:1"], "must be absolute paths"),
        (["--socket", '/s" x', "--forward", "h:1"], "has spaces, quotes or braces"),
        (["--socket", "/s", "--database-url", "sqlite:///x"], "must be PostgreSQL"),
        (["--socket", "/s", "--database-url", 'postgresql://u:a"b@h/d'], "has a quote"),
        (["--socket", "/s", "--forward", "h:1", "--max-disk-queue", "1 g"], "is not a size"),
    ],
)
def test_rsyslog_inputs_out_of_place_are_refused(argv: list[str], said: str) -> None:
    done = cellhub_render("rsyslog", "--work-dir", "/var/lib/cellhub/logs", *argv)
    assert done.returncode != 0 and done.stdout == ""
    assert said in done.stderr, done.stderr
