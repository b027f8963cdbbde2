"""forge_for: remote URL parsing, forge kind, API URL and token lookup.

Clients built here are pointed at tests/unit/forge/fake_forge.py where a request is needed:
a stand-in, because no GitHub, GitLab or Gitea server can run on this machine.
"""

from __future__ import annotations

import pytest

from patchwarden.apply.forge import (
    ForgeConfigError,
    GiteaForge,
    GitHubForge,
    GitLabForge,
    forge_for,
    parse_remote,
)
from testkit.fake_forge import FakeForge

ENV = {"PATCHWARDEN_FORGE_TOKEN": "t"}


@pytest.mark.parametrize(
    ("url", "host", "path", "web"),
    [
        ("https://github.com/o/r.git", "github.com", "o/r", "https://github.com"),
        ("https://github.com/o/r", "github.com", "o/r", "https://github.com"),
        ("https://github.com/o/r.git/", "github.com", "o/r", "https://github.com"),
        (
            "https://x-access-token:ghs_abc@github.com/o/r.git",
            "github.com",
            "o/r",
            "https://github.com",
        ),
        ("git@github.com:o/r.git", "github.com", "o/r", "https://github.com"),
        ("github.com:o/r", "github.com", "o/r", "https://github.com"),
        (
            "ssh://git@gitlab.example.com:2222/g/sub/p.git",
            "gitlab.example.com",
            "g/sub/p",
            "https://gitlab.example.com",
        ),
        ("ssh://git@GitHub.com/o/r.git", "github.com", "o/r", "https://github.com"),
        (
            "git://gitea.example.com/o/r.git",
            "gitea.example.com",
            "o/r",
            "https://gitea.example.com",
        ),
        ("https://gitea.example.com/o/r", "gitea.example.com", "o/r", "https://gitea.example.com"),
        (
            "https://gitea.example.com:3000/o/r.git",
            "gitea.example.com",
            "o/r",
            "https://gitea.example.com:3000",
        ),
        ("http://localhost:3000/o/r.git", "localhost", "o/r", "http://localhost:3000"),
        ("git@gitlab.com:g/sub/deeper/p.git", "gitlab.com", "g/sub/deeper/p", "https://gitlab.com"),
    ],
)
def test_parse_remote(url: str, host: str, path: str, web: str) -> None:
    r = parse_remote(url)
    assert (r.host, r.path, r.web) == (host, path, web)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "https://github.com/",
        "https://github.com/onlyowner",
        "/local/path/repo.git",
    ],
)
def test_parse_remote_rejects(url: str) -> None:
    with pytest.raises(ForgeConfigError, match="cannot tell the forge repository"):
        parse_remote(url)


def test_bad_remote_message_hides_credentials() -> None:
    with pytest.raises(ForgeConfigError) as exc:
        parse_remote("https://user:hunter2@github.com/")
    assert "hunter2" not in str(exc.value)


@pytest.mark.parametrize(
    ("url", "kind", "cls", "api"),
    [
        ("https://github.com/o/r.git", None, GitHubForge, "https://api.github.com"),
        ("git@ghe.corp:o/r.git", "github", GitHubForge, "https://ghe.corp/api/v3"),
        ("https://gitlab.com/g/sub/p.git", None, GitLabForge, "https://gitlab.com/api/v4"),
        (
            "ssh://git@gitlab.example.com:2222/g/p.git",
            "gitlab",
            GitLabForge,
            "https://gitlab.example.com/api/v4",
        ),
        ("https://gitea.example.com/o/r", "gitea", GiteaForge, "https://gitea.example.com/api/v1"),
        ("https://codeberg.org/o/r.git", None, GiteaForge, "https://codeberg.org/api/v1"),
        ("https://git.example/o/r", "Forgejo", GiteaForge, "https://git.example/api/v1"),
    ],
)
def test_forge_for_kind_and_default_api(
    url: str, kind: str | None, cls: type[GitHubForge | GitLabForge | GiteaForge], api: str
) -> None:
    forge = forge_for(url, kind=kind, api_url=None, token=None, env=ENV)
    assert isinstance(forge, cls)
    assert forge.api.base_url == api


def test_unknown_host_requires_kind() -> None:
    with pytest.raises(ForgeConfigError) as exc:
        forge_for("https://git.corp/o/r.git", kind=None, api_url=None, token="t")
    assert "git.corp" in str(exc.value) and "github" in str(exc.value) and "gitea" in str(exc.value)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ForgeConfigError, match="unknown forge kind 'bitbucket'"):
        forge_for("https://github.com/o/r", kind="bitbucket", api_url=None, token="t")


def test_github_path_must_be_owner_repo() -> None:
    with pytest.raises(ForgeConfigError, match="not OWNER/REPO"):
        forge_for("https://github.com/a/b/c", kind=None, api_url=None, token="t")


@pytest.mark.parametrize(
    ("kind", "env", "arg", "expected"),
    [
        ("github", {"PATCHWARDEN_FORGE_TOKEN": "pw", "GITHUB_TOKEN": "gh"}, "arg", "arg"),
        ("github", {"PATCHWARDEN_FORGE_TOKEN": "pw", "GITHUB_TOKEN": "gh"}, None, "pw"),
        ("github", {"GITHUB_TOKEN": "gh", "GITLAB_TOKEN": "gl"}, None, "gh"),
        ("gitlab", {"GITHUB_TOKEN": "gh", "GITLAB_TOKEN": "gl"}, None, "gl"),
        ("gitea", {"GITEA_TOKEN": "ge", "PATCHWARDEN_FORGE_TOKEN": " "}, None, "ge"),
    ],
)
def test_token_precedence(kind: str, env: dict[str, str], arg: str | None, expected: str) -> None:
    fake = FakeForge(kind, token=expected, repo="g/p")
    try:
        host = "127.0.0.1"
        forge = forge_for(
            f"https://{host}/g/p.git", kind=kind, api_url=fake.api_url, token=arg, env=env
        )
        assert forge.find_open("x") is None  # the fake accepted the token
    finally:
        fake.stop()


@pytest.mark.parametrize(
    ("kind", "var"),
    [("github", "GITHUB_TOKEN"), ("gitlab", "GITLAB_TOKEN"), ("gitea", "GITEA_TOKEN")],
)
def test_missing_token_names_the_variables(kind: str, var: str) -> None:
    with pytest.raises(ForgeConfigError) as exc:
        forge_for("https://h.example/o/r", kind=kind, api_url=None, token=None, env={})
    assert "PATCHWARDEN_FORGE_TOKEN" in str(exc.value) and var in str(exc.value)
    assert exc.value.exit_code == 2


def test_token_from_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATCHWARDEN_FORGE_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", "from-env")
    forge = forge_for("https://github.com/o/r", kind=None, api_url=None, token=None)
    assert isinstance(forge, GitHubForge)


def test_explicit_api_url_allows_a_sub_path_instance() -> None:
    forge = forge_for(
        "https://host.example/gitea/o/r.git",
        kind="gitea",
        api_url="https://host.example/gitea/api/v1/",
        token="t",
    )
    assert isinstance(forge, GiteaForge)
    assert (forge.owner, forge.repo, forge.api.base_url) == (
        "o",
        "r",
        "https://host.example/gitea/api/v1",
    )
