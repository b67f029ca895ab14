"""The kernel kinds: the ``kernels`` setting, what ``auto`` offers, and each kind's logos."""

from __future__ import annotations

import dataclasses

import pytest

from cellhub.config import ConfigError, load_config
from cellhub.kernel_kinds import KINDS, PYTHON3, SAGE, KernelKind, offered


@pytest.mark.parametrize("value", ["python3,python3", "ruby", "auto,sage", ""])
def test_the_setting_takes_auto_alone_or_known_kinds_once(value: str) -> None:
    with pytest.raises(ConfigError, match="kernels"):
        load_config(environ={"CELLHUB_KERNELS": value})


def test_named_kinds_are_offered_as_named() -> None:
    config = load_config(environ={"CELLHUB_KERNELS": "sage,python3"})
    assert offered(config.kernels).names == ("sage", "python3")


def test_auto_offers_each_installed_kind_and_says_why_not_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = dataclasses.replace(SAGE, requires=("sage.all__sagemath_repl", "no_such_here.all"))
    monkeypatch.setitem(KINDS, "sage", missing)
    offer = offered(["auto"])
    assert offer.names == ("python3",)
    assert offer.describe() == (
        "python3; sage not offered: no_such_here.all not installed (pip install 'cellhub[sage]')"
    )


def test_auto_offers_sage_where_it_is_installed() -> None:
    assert ("sage" in offered(["auto"]).names) == SAGE.available()


def test_python3_logos_are_cellhubs_own() -> None:
    assert set(PYTHON3.logo_files()) == {"logo-32x32.png", "logo-64x64.png", "logo-svg.svg"}


def test_a_kind_whose_package_is_missing_has_no_logos() -> None:
    assert KernelKind("x", "X", "x", logo_package="no_such_package_here").logo_files() == {}
