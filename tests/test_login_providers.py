"""The ``login_providers`` setting (cellhub/login_providers.py) and how each preset's answer
names a person (hub/oauth.py): GitHub's and Dropbox's userinfo answers, OpenID claims.

The OpenID Connect flow itself runs against a real provider in tests/hub/test_oauth_login.py;
GitHub, Google and Dropbox cannot be reached from the tests, so their presets are checked
here by what they send.
"""

from __future__ import annotations

import json

import pytest

from cellhub.config import ConfigError, load_config
from cellhub.hub.oauth import Identity, LoginFailed, oauth2_identity, oidc_identity
from cellhub.hub.oauth_login import account_name
from cellhub.login_providers import PRESETS, parse_providers

SECRET = "s3cret-value-never-shown"


def test_presets_come_from_the_table_name_and_oidc_needs_an_issuer() -> None:
    providers = parse_providers(
        {
            "github": {"client_id": "a", "client_secret": SECRET},
            "google": {"client_id": "b", "client_secret": SECRET},
            "dropbox": {"client_id": "c", "client_secret": SECRET},
            "campus": {
                "preset": "oidc",
                "issuer": "https://sso.example.edu/realms/staff/",
                "client_id": "d",
                "client_secret": SECRET,
                "title": "University login",
            },
        }
    )
    assert [(p.name, p.preset, p.label) for p in providers] == [
        ("github", "github", "GitHub"),
        ("google", "google", "Google"),
        ("dropbox", "dropbox", "Dropbox"),
        ("campus", "oidc", "University login"),
    ]
    github, google, dropbox, campus = providers
    assert not github.kind.is_oidc and not dropbox.kind.is_oidc and github.discovery_url == ""
    assert google.discovery_url == PRESETS["google"].discovery
    expected = "https://sso.example.edu/realms/staff/.well-known/openid-configuration"
    assert campus.discovery_url == expected
    assert SECRET not in repr(providers)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"preset": "myspace", "client_id": "a", "client_secret": SECRET}, "preset"),
        ({"preset": "oidc", "client_id": "a", "client_secret": SECRET}, "issuer"),
        (
            {"preset": "oidc", "issuer": "ftp://x", "client_id": "a", "client_secret": SECRET},
            "issuer",
        ),
        ({"preset": "github", "client_secret": SECRET}, "client_id"),
        ({"preset": "github", "client_id": "a"}, "client_secret"),
        ({"preset": "github", "client_id": "a", "client_secret": SECRET, "secret": 1}, "unknown"),
    ],
)
def test_a_wrong_entry_stops_the_configuration(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        load_config(environ={}, overrides={"login_providers": {"x": entry}})
    assert SECRET not in str(refused.value)
    environ = {"CELLHUB_LOGIN_PROVIDERS": json.dumps({"x": entry})}
    with pytest.raises(ConfigError, match=message):
        load_config(environ=environ)


def test_the_setting_is_json_in_the_environment_and_hidden_from_repr() -> None:
    setting = {"github": {"client_id": "a", "client_secret": SECRET}}
    config = load_config(environ={"CELLHUB_LOGIN_PROVIDERS": json.dumps(setting)})
    assert config.login_providers == setting and SECRET not in repr(config)
    with pytest.raises(ConfigError, match="login_providers") as refused:
        load_config(environ={"CELLHUB_LOGIN_PROVIDERS": f"not json {SECRET}"})
    assert SECRET not in str(refused.value)
    with pytest.raises(ConfigError, match="provider name"):
        load_config(overrides={"login_providers": {"Bad Name": setting["github"]}})


def test_each_preset_names_the_person() -> None:
    github, dropbox = parse_providers(
        {
            "github": {"client_id": "a", "client_secret": SECRET},
            "dropbox": {"client_id": "b", "client_secret": SECRET},
        }
    )
    assert oauth2_identity(
        github, {"id": 583231, "login": "octocat", "email": None, "name": "The Octocat"}
    ) == Identity("github", "583231", "octocat", "", "The Octocat")
    answer = {"account_id": "dbid:AAH4f99", "email": "f@example.org", "name": {"display_name": "F"}}
    assert oauth2_identity(dropbox, answer) == Identity(
        "dropbox", "dbid:AAH4f99", "", "f@example.org", "F"
    )
    with pytest.raises(LoginFailed):
        oauth2_identity(github, {"login": "no-id"})
    claims = {"sub": "248289761001", "email": "jane@example.org", "name": "Jane Doe"}
    assert oidc_identity("google", claims) == Identity(
        "google", "248289761001", "", "jane@example.org", "Jane Doe"
    )
    with pytest.raises(LoginFailed):
        oidc_identity("google", {"email": "nobody@example.org"})


@pytest.mark.parametrize(
    ("identity", "name"),
    [
        (Identity("p", "1", username="octocat"), "octocat"),
        (Identity("p", "1", email="jane.doe+x@example.org"), "jane.doe+x"),
        (Identity("p", "1", display_name="Jane Doe"), "Jane.Doe"),
        (Identity("p", "1", username="  ", display_name="José Łukasz "), "Jose.ukasz"),
        (Identity("p", "1", username="__"), "user"),
    ],
)
def test_account_names_are_valid(identity: Identity, name: str) -> None:
    assert account_name(identity) == name
