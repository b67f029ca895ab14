"""The cluster the scenarios of a module share: built once (it takes seconds), removed with
every host when the module ends, whatever happened; skipped, saying why, where namespaces
cannot be made or HAProxy and keepalived are missing. A failed scenario's report ends with
what the cluster's processes printed."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from tests.cluster import balancers, hosts
from tests.cluster.cluster import Cluster, running_cluster


def require_hosts() -> None:
    reason = hosts.unavailable()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_hosts()
    reason = balancers.unavailable()
    if reason:
        pytest.skip(reason)
    with running_cluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed scenario's report shows what the cluster's processes printed."""
    report = yield
    cluster = getattr(item, "funcargs", {}).get("cluster")
    if report.failed and isinstance(cluster, Cluster):
        report.sections.append(("cluster: what its processes printed", cluster.logs()))
    return report
