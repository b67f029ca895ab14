"""Where the worker of ``cellhub serve`` listens: its Unix socket, or a TCP port if the path
is too long for one."""

from __future__ import annotations

from pathlib import Path

from cellhub.config import Config
from cellhub.deploy.supervisor import local_worker


def test_the_local_worker_listens_on_a_socket_in_the_data_dir(tmp_path: Path) -> None:
    config = local_worker(Config(data_dir=str(tmp_path)))
    assert config.worker_socket == str(tmp_path / "worker.sock")


def test_a_data_dir_too_deep_for_a_socket_path_gets_a_tcp_port(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 100)
    config = local_worker(Config(data_dir=str(deep)))
    assert config.worker_socket == "" and config.worker_port > 0


def test_a_socket_chosen_in_the_settings_is_kept(tmp_path: Path) -> None:
    chosen = str(tmp_path / "elsewhere.sock")
    config = local_worker(Config(data_dir=str(tmp_path), worker_socket=chosen))
    assert config.worker_socket == chosen
