"""The three forge clients' common behaviour, against tests/testkit/fake_forge.py.

The fake is a stand-in because no GitHub, GitLab or Gitea server can run on this machine; it
follows each API's documented requests and responses (paths, auth headers, JSON fields).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from patchwarden.apply.forge import (
    Forge,
    ForgeAuthError,
    ForgeError,
    ForgeNotFoundError,
    GitHubForge,
    PullRequest,
)
from testkit.fake_forge import FAST, FakeForge, client

KINDS = ["github", "gitlab", "gitea"]


@pytest.fixture(params=KINDS)
def fake(request: pytest.FixtureRequest) -> Iterator[FakeForge]:
    repo = "grp/sub/proj" if request.param == "gitlab" else "octo/app"
    f = FakeForge(request.param, repo=repo)
    yield f
    f.stop()


def test_clients_satisfy_the_protocol(fake: FakeForge) -> None:
    assert isinstance(client(fake), Forge)


def test_create_when_none_exists_then_find_by_branch(fake: FakeForge) -> None:
    forge = client(fake)
    assert forge.find_open("patchwarden/nginx") is None
    pr = forge.create("patchwarden/nginx", "main", "Bump nginx to 1.27.1", "digest pinned")
    assert pr == PullRequest(
        number=1,
        url=pr.url,
        head="patchwarden/nginx",
        base="main",
        title="Bump nginx to 1.27.1",
        body="digest pinned",
        state="open",
    )
    assert pr.url.startswith("https://forge.example/") and pr.url.endswith("/1")
    fake.add("other-branch")
    assert forge.find_open("patchwarden/nginx") == pr
    assert forge.find_open("patchwarden/redis") is None


def test_update_title_and_body(fake: FakeForge) -> None:
    forge = client(fake)
    pr = forge.create("pw/a", "main", "old", "old body")
    new = forge.update(pr, "Bump a to 2", "new body")
    assert (new.number, new.title, new.body, new.state) == (
        pr.number,
        "Bump a to 2",
        "new body",
        "open",
    )
    assert fake.prs[pr.number].title == "Bump a to 2"


def test_close_with_a_comment(fake: FakeForge) -> None:
    forge = client(fake)
    pr = forge.create("pw/a", "main", "t", "b")
    closed = forge.close(pr, "Superseded by #2")
    assert closed.state == "closed"
    assert fake.prs[pr.number].comments == ["Superseded by #2"]
    assert forge.find_open("pw/a") is None
    # the comment is posted before the close, so a failed comment leaves the PR open
    writes = [r.split("?")[0] for r in fake.requests if not r.startswith("GET")]
    assert "comments" in writes[-2] or "notes" in writes[-2]


def test_close_without_comment_posts_none(fake: FakeForge) -> None:
    forge = client(fake)
    pr = forge.create("pw/a", "main", "t", "")
    assert forge.close(pr).state == "closed"
    assert fake.prs[pr.number].comments == []


def test_create_twice_returns_the_first(fake: FakeForge) -> None:
    forge = client(fake)
    first = forge.create("pw/a", "main", "t", "b")
    second = forge.create("pw/a", "main", "t", "b")
    assert second == first
    assert len(fake.prs) == 1


def test_auth_failure_names_the_permission_and_never_the_token(fake: FakeForge) -> None:
    bad = "wrong-token-0123456789"
    with pytest.raises(ForgeAuthError) as exc:
        client(fake, token=bad).find_open("pw/a")
    text = str(exc.value)
    assert bad not in text and fake.token not in text
    assert "token was rejected" in text and "HTTP 401" in text
    assert exc.value.hint and "PATCHWARDEN_FORGE_TOKEN" in exc.value.hint


def test_read_only_token_gets_403_auth_error(fake: FakeForge) -> None:
    fake.readonly = True
    with pytest.raises(ForgeAuthError) as exc:
        client(fake).create("pw/a", "main", "t", "b")
    assert "HTTP 403" in str(exc.value) and fake.token not in str(exc.value)


def test_github_auth_message_names_pull_requests_write() -> None:
    fake = FakeForge("github")
    try:
        with pytest.raises(ForgeAuthError, match="lacks `pull_requests: write`"):
            client(fake, token="nope-nope").find_open("x")
    finally:
        fake.stop()


def test_unknown_repository_is_not_found_with_a_hint(fake: FakeForge) -> None:
    with pytest.raises(ForgeNotFoundError) as exc:
        client(fake, repo="someone/else").find_open("pw/a")
    assert "404" in str(exc.value)
    assert exc.value.hint and "token" in exc.value.hint


def test_5xx_and_429_are_retried(fake: FakeForge) -> None:
    fake.inject = [503, 429]
    assert client(fake).create("pw/a", "main", "t", "b").number == 1
    assert sum(r.startswith("POST") for r in fake.requests) == 3


def test_5xx_after_the_last_retry_is_a_transient_error(fake: FakeForge) -> None:
    fake.inject = [502] * 4
    with pytest.raises(ForgeError) as exc:
        client(fake).find_open("pw/a")
    assert exc.value.transient and "502" in str(exc.value)


def test_unreachable_forge_is_a_forge_error() -> None:
    forge = GitHubForge("o", "r", "tok-abc", api_url="http://127.0.0.1:9/api/v3", **FAST)
    with pytest.raises(ForgeError) as exc:
        forge.find_open("x")
    assert "GitHub API" in str(exc.value) and "tok-abc" not in str(exc.value)


def test_close_leaves_merged_or_closed_pull_requests_alone(fake: FakeForge) -> None:
    forge = client(fake)
    pr = forge.create("pw/a", "main", "t", "b")
    fake.requests.clear()
    merged = PullRequest(pr.number, pr.url, pr.head, pr.base, pr.title, pr.body, "merged")
    assert forge.close(merged, "superseded") == merged
    assert fake.requests == []
