"""The alerting rules (deploy/prometheus/cellhub-alerts.yml) and docs/operations.md agree:
each alert is explained there, and each cellhub metric an alert reads is one the hubs serve
(the documented table of docs/deployment.md, which tests/hub/test_metrics.py keeps equal to
what hubs serve)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "cellhub-alerts.yml"
OPERATIONS = ROOT / "docs" / "operations.md"
DEPLOYMENT = ROOT / "docs" / "deployment.md"
#: The suffixes Prometheus adds to a histogram's samples.
HISTOGRAM_SAMPLES = re.compile(r"_(bucket|sum|count)$")


def rules() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_alert_is_explained() -> None:
    alerts = [rule["alert"] for rule in rules()]
    assert len(alerts) == len(set(alerts)) >= 5
    explained = re.findall(r"^\| `(\w+)` \|", OPERATIONS.read_text(), re.M)
    assert [name for name in explained if name.startswith("Cellhub")] == alerts
    for rule in rules():
        assert rule["for"] and rule["annotations"]["summary"] and rule["labels"]["severity"]


def test_alerts_read_served_metrics() -> None:
    served = set(re.findall(r"^\| `(cellhub_\w+)`", DEPLOYMENT.read_text(), re.M))
    read = {
        HISTOGRAM_SAMPLES.sub("", name)
        for rule in rules()
        for name in re.findall(r"\bcellhub_\w+", rule["expr"])
    }
    assert read and read <= served, read - served
