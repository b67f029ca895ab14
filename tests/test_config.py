"""The configuration: precedence, validation, and every setting documented."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pytest

from cellhub.config import SETTINGS, Config, ConfigError, load_config
from cellhub.sandbox import SandboxLimits

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_valid() -> None:
    config = load_config(environ={})
    assert config.port == 8888 and config.host == "127.0.0.1"
    assert config.db_url.startswith("sqlite:///") and config.db_url.endswith("cellhub.sqlite")


def test_precedence_file_then_environment_then_flags(tmp_path: Path) -> None:
    toml = tmp_path / "cellhub.toml"
    toml.write_text('port = 9000\nmax_sessions = 5\npreload = ["numpy"]\n')
    config = load_config(toml, environ={"CELLHUB_MAX_SESSIONS": "7"}, overrides={"host": "0.0.0.0"})
    assert (config.port, config.max_sessions, config.host) == (9000, 7, "0.0.0.0")
    assert config.preload == ["numpy"]
    assert load_config(toml, environ={}, overrides={"port": "1234"}).port == 1234


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CELLHUB_PORT": "eighty"}, "port"),
        ({"CELLHUB_PORT": "70000"}, "ports"),
        ({"CELLHUB_MAX_SESSIONS": "0"}, "max_sessions"),
        ({"CELLHUB_WORKER_TIMEOUT": "0"}, "worker_timeout"),
        ({"CELLHUB_SANDBOX": "chroot"}, "sandbox"),
        ({"CELLHUB_NETWORK": "maybe"}, "network"),
        ({"CELLHUB_SESSION_ENVIRONMENT": "CELLHUB_TOKEN"}, "never reach sessions"),
        ({"CELLHUB_SESSION_ENVIRONMENT": "A=1,2B=3"}, "session_environment"),
        ({"CELLHUB_CPU_SECONDS": "-1"}, "cpu_seconds"),
        ({"CELLHUB_MEMORY": "1024"}, "memory"),
        ({"CELLHUB_LOG_SHIPPER": "log.sock"}, "log_shipper"),
        ({"CELLHUB_LOG_STORE": "logs.example"}, "log_store"),
    ],
)
def test_bad_values_are_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(environ=environ)


def test_unknown_setting_in_file_is_refused(tmp_path: Path) -> None:
    toml = tmp_path / "cellhub.toml"
    toml.write_text("prot = 9000\n")
    with pytest.raises(ConfigError, match="prot"):
        load_config(toml, environ={})


def test_every_limit_is_a_setting_that_reaches_the_template() -> None:
    """The limits are declared once, in SandboxLimits; the worker sends them all as JSON."""
    config = load_config(environ={"CELLHUB_MEMORY": str(300 * 2**20), "CELLHUB_FILE_SIZE": "0"})
    limits = SandboxLimits(**orjson.loads(orjson.dumps(config.limit_values())))
    assert dataclasses.asdict(limits) == {
        **dataclasses.asdict(SandboxLimits()),
        "memory": 300 * 2**20,
        "file_size": 0,
    }
    assert {f.name for f in dataclasses.fields(SandboxLimits)} <= set(SETTINGS)


def documented_row(name: str, field: dataclasses.Field[Any]) -> str:
    default = getattr(Config(), name)
    if isinstance(default, bool):
        shown = str(default).lower()
    elif isinstance(default, list | dict):
        shown = ", ".join(default)
    else:
        shown = str(default)
    return f"| `{name}` | `{shown or '(empty)'}` | {field.metadata['help']} |"


def test_every_setting_has_help_and_is_documented() -> None:
    """docs/configuration.md has each setting's row as the settings table states it."""
    readme = (ROOT / "docs" / "configuration.md").read_text()
    for name, field in SETTINGS.items():
        assert field.metadata.get("help"), f"setting {name} has no help text"
        row = documented_row(name, field)
        assert row in readme, f"docs/configuration.md lacks, or differs from, the row\n{row}"
