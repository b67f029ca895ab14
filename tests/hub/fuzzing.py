"""The hypothesis settings the fuzz tests share: a bounded number of examples against a real
hub, no deadline (a real process answers), no example database, no health checks."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings


def bounded(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
