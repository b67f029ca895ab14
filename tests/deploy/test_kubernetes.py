"""The Kubernetes manifests in deploy/kubernetes, checked offline: every document is valid
for the pinned Kubernetes version (strict: no field Kubernetes would ignore), and what they
tell cellhub is what cellhub reads — the settings file loads, each ``CELLHUB_*`` variable
is a setting, the workers file parses, and the probes ask public hub routes that exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cellhub.config import SETTINGS, load_config
from cellhub.hub.access import Access
from cellhub.hub.app import hub_routes
from cellhub.hub.roster import parse_roster

MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
#: The Kubernetes release the manifests are written for.
KUBERNETES = "1.31.0"


def documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((MANIFESTS / name).read_text()) if doc]


def every_document() -> list[tuple[str, dict[str, Any]]]:
    files = sorted(MANIFESTS.glob("*.yaml"))
    return [(path.name, doc) for path in files for doc in documents(path.name)]


def containers() -> list[dict[str, Any]]:
    workloads = [doc for _, doc in every_document() if doc["kind"] in ("Deployment", "DaemonSet")]
    return [c for doc in workloads for c in doc["spec"]["template"]["spec"]["containers"]]


def config_map(name: str) -> dict[str, str]:
    found = [doc for _, doc in every_document() if doc.get("metadata", {}).get("name") == name]
    assert len(found) == 1, name
    data: dict[str, str] = found[0]["data"]
    return data


@pytest.mark.parametrize(("file", "document"), every_document(), ids=lambda v: str(v)[:40])
def test_every_document_is_valid_for_the_pinned_kubernetes(
    file: str, document: dict[str, Any]
) -> None:
    if file == "kustomization.yaml":
        assert set(document["resources"]) == {
            p.name for p in MANIFESTS.glob("*.yaml") if p.name not in (file, "secret.example.yaml")
        }
        return
    kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_the_settings_file_loads_and_every_variable_is_a_setting(tmp_path: Path) -> None:
    settings = tmp_path / "cellhub.toml"
    settings.write_text(config_map("cellhub-config")["cellhub.toml"])
    config = load_config(settings, environ={})
    assert config.workers_file.startswith("/etc/cellhub/workers/")
    names = {env["name"] for c in containers() for env in c.get("env", [])}
    assert names and all(n.startswith("CELLHUB_") for n in names)
    assert {n.removeprefix("CELLHUB_").lower() for n in names} <= set(SETTINGS)


def test_the_workers_file_parses() -> None:
    text = config_map("cellhub-workers")["workers.toml"]
    workers = parse_roster(text)
    assert [w.name for w in workers] == ["node-1"]


def test_the_probes_ask_public_routes_the_hub_has() -> None:
    public = {getattr(g.route, "path", "") for g in hub_routes() if g.access == Access.ANYONE}
    paths = [
        probe["httpGet"]["path"]
        for c in containers()
        for kind in ("readinessProbe", "livenessProbe")
        if "httpGet" in c.get(kind, {})
        for probe in [c[kind]]
    ]
    assert paths and set(paths) <= public
