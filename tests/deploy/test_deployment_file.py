"""The deployment file (deploy/deployment_file.py): a one-host deployment is a few lines, and
each mistake is reported with its line and the problem in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from cellhub.deploy.deployment_file import DeploymentError, load, parse

ONE_HOST = """\
[[service]]
kind = "worker"

[[service]]
kind = "hub"
"""

TWO_HOSTS = """\
run_dir = "/var/lib/cellhub"
settings = "cellhub.toml"

[host.web1]
address = "192.0.2.10"

[host."web2"]
address = "192.0.2.11"

[[service]]
kind = "postgresql"
host = "web1"

[[service]]
kind = "worker"
host = "web2"

[[service]]
kind = "hub"
host = "web1"

[[service]]
kind = "hub"
host = "web2"
port = 8889

[[service]]
kind = "haproxy"
host = "web1"
stats_port = 8405

[[service]]
kind = "keepalived"
host = "web1"
interface = "eth0"
virtual_address = "192.0.2.100/24"
router_id = 51
priority = 150
password = "s3cret"
"""


def test_one_host_is_a_few_lines(tmp_path: Path) -> None:
    deployment = parse(ONE_HOST, tmp_path / "deployment.toml")
    assert [str(service) for service in deployment.services] == [
        "worker@localhost",
        "hub@localhost",
    ]
    assert deployment.run_dir == tmp_path / "run"
    assert deployment.address(deployment.services[1]) == "127.0.0.1"
    assert [service.port for service in deployment.services] == [7000, 8888]


def test_hosts_and_services_in_start_order(tmp_path: Path) -> None:
    deployment = parse(TWO_HOSTS, tmp_path / "d.toml")
    assert [s.name for s in deployment.on_host("web1")] == [
        "postgresql",
        "hub1",
        "haproxy",
        "keepalived",
    ]
    assert [s.name for s in deployment.on_host("web2")] == ["worker", "hub2"]
    assert deployment.settings == tmp_path / "cellhub.toml"
    assert deployment.run_dir == Path("/var/lib/cellhub")
    assert deployment.of_kind("keepalived")[0].options["priority"] == 150


LOG_STORE = '[[service]]\nkind = "logs"\nhost = "web1"\n'


def test_hosts_without_the_log_store_get_a_forwarder(tmp_path: Path) -> None:
    """Every host with hubs or workers and not the store: none where there is no store."""
    assert parse(TWO_HOSTS, tmp_path / "d.toml").forwarder("web2") is None
    deployment = parse(TWO_HOSTS + LOG_STORE, tmp_path / "d.toml")
    assert [s.name for s in deployment.on_host("web1")][:2] == ["postgresql", "logs"]
    assert deployment.forwarder("web1") is None
    assert [s.name for s in deployment.on_host("web2")] == ["log-forwarder-web2", "worker", "hub2"]
    forwarder = deployment.on_host("web2")[0]
    assert (forwarder.kind, forwarder.host, forwarder.port) == ("log-forwarder", "web2", 0)
    assert forwarder not in deployment.services  # the file does not name it
    taken = 'name = "log-forwarder-web2"\nport = 7001\n'
    for mistake, message in [
        (LOG_STORE.replace("web1", "web2"), "a deployment has one logs service"),
        (
            f'[[service]]\nkind = "hub"\nhost = "web2"\n{taken}',
            "the name 'log-forwarder-web2",
        ),
    ]:
        with pytest.raises(DeploymentError, match=message):
            parse(TWO_HOSTS + LOG_STORE + mistake, tmp_path / "d.toml")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('kind = "hub"\nhost = "web1"', 'kind = "hub"\nhost = "web3"'),
            "20: service 'hub1' host 'web3' is not",
        ),
        (("port = 8889", "port = 70000"), "25: service 'hub2': port 70000 is not 0-65535"),
        (("port = 8889", 'port = "8889"'), "25: service 'hub2': port '8889'"),
        (("port = 8889", "prot = 8889"), "25: service 'hub2': unknown key 'prot' (a hub has"),
        (
            ("stats_port = 8405", "stats_port = 8888"),
            "27: haproxy: port 8888 on web1 is also that of hub1 (line 18)",
        ),
        (('kind = "worker"', 'kind = "wroker"'), "15: a service needs a kind, one of"),
        (("priority = 150\n", ""), "32: service 'keepalived' needs priority"),
        (("router_id = 51", "router_id = true"), "37: service 'keepalived': router_id is an int"),
        (
            ('address = "192.0.2.11"', 'address = "192.0.2.11 x"'),
            "8: host 'web2': '192.0.2.11 x' is neither",
        ),
        (('settings = "cellhub.toml"', 'setings = "cellhub.toml"'), "2: unknown key 'setings'"),
        (('kind = "postgresql"', 'kind = "postgresql'), "11: not TOML"),
        (
            ('kind = "postgresql"\nhost = "web1"', 'kind = "hub"\nhost = "web1"\nname = "hub2"'),
            "19: the name 'hub2' is also that of the service on line 10",
        ),
        (
            ('[[service]]\nkind = "postgresql"\nhost = "web1"\n', ""),
            "19: several hubs share one database",
        ),
        (
            ('[[service]]\nkind = "haproxy"\nhost = "web1"\nstats_port = 8405\n', ""),
            "28: keepalived: keepalived watches an HAProxy on its host",
        ),
    ],
)
def test_mistakes_name_their_line(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = TWO_HOSTS.replace(*change, 1)
    assert text != TWO_HOSTS
    with pytest.raises(DeploymentError) as error:
        parse(text, tmp_path / "d.toml")
    assert str(error.value).startswith(message), str(error.value)


def test_load_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deployment.toml"
    path.write_text(ONE_HOST + "port = -1\n")
    with pytest.raises(DeploymentError, match=r"deployment.toml:6: service 'hub': port -1"):
        load(path)
    with pytest.raises(DeploymentError, match="cannot read it"):
        load(tmp_path / "missing.toml")


def test_a_deployment_needs_hub_and_worker(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match="1: no worker"):
        parse('[[service]]\nkind = "hub"\n', tmp_path / "d.toml")
    with pytest.raises(DeploymentError, match="several hubs share one database"):
        parse(ONE_HOST + '[[service]]\nkind = "hub"\nport = 8889\n', tmp_path / "d.toml")
