"""Per-forge behaviour: error pass-through, Gitea pagination, GitLab project ids, size caps.

Runs against tests/unit/forge/fake_forge.py, a stand-in because no GitHub, GitLab or Gitea
server can run on this machine; it follows each API's documented requests and responses.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from patchwarden.apply.forge import (
    ForgeConflictError,
    ForgeError,
    GiteaForge,
    GitHubForge,
    GitLabForge,
)
from patchwarden.apply.forge.api import api_message
from testkit.fake_forge import FAST, FakeForge, client


@pytest.fixture
def github() -> Iterator[FakeForge]:
    f = FakeForge("github", repo="octo/app")
    yield f
    f.stop()


@pytest.fixture
def gitlab() -> Iterator[FakeForge]:
    f = FakeForge("gitlab", repo="grp/sub/proj")
    yield f
    f.stop()


@pytest.fixture
def gitea() -> Iterator[FakeForge]:
    f = FakeForge("gitea", repo="octo/app")
    yield f
    f.stop()


def test_github_sends_owner_qualified_head_filter(github: FakeForge) -> None:
    client(github).find_open("patchwarden/nginx")
    assert "head=octo%3Apatchwarden%2Fnginx" in github.requests[-1]
    assert "state=open" in github.requests[-1]


def test_github_422_already_exists_passes_through(github: FakeForge) -> None:
    forge = client(github)
    forge.create("pw/a", "main", "t", "b")
    github.stale_list = True  # GitHub's list can lag behind a create just made
    with pytest.raises(ForgeConflictError) as exc:
        forge.create("pw/a", "main", "t", "b")
    assert exc.value.status == 422
    assert "A pull request already exists for octo:pw/a." in str(exc.value)


def test_github_422_validation_detail_passes_through(github: FakeForge) -> None:
    github.branches = {"main"}
    with pytest.raises(ForgeConflictError, match=r"Validation Failed: head invalid"):
        client(github).create("not-pushed", "main", "t", "b")


def test_gitlab_uses_url_encoded_project_path(gitlab: FakeForge) -> None:
    forge = client(gitlab)
    forge.create("pw/a", "main", "t", "b")
    assert gitlab.requests[-1] == "POST /api/v4/projects/grp%2Fsub%2Fproj/merge_requests"
    assert forge.find_open("pw/a") is not None
    assert "source_branch=pw%2Fa&state=opened" in gitlab.requests[-1]


def test_gitlab_409_message_passes_through_for_another_target(gitlab: FakeForge) -> None:
    forge = client(gitlab)
    forge.create("pw/a", "main", "t", "b")
    with pytest.raises(ForgeConflictError) as exc:
        forge.create("pw/a", "release", "t", "b")
    assert exc.value.status == 409
    assert "Another open merge request already exists for this source branch: !1" in str(exc.value)


def test_gitlab_merge_request_asks_to_remove_source_branch(gitlab: FakeForge) -> None:
    seen: list[bytes] = []

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(201, json=gitlab.render(gitlab.add("pw/a")))

    forge = GitLabForge("g/p", "tok", transport=httpx.MockTransport(spy), **FAST)
    forge.create("pw/a", "main", "t", "b")
    assert b'"remove_source_branch":true' in seen[0].replace(b" ", b"")


def test_gitea_follows_pagination_to_find_an_old_pull_request(gitea: FakeForge) -> None:
    target = gitea.add("pw/oldest")
    for i in range(59):
        gitea.add(f"feature/{i}")
    assert len(gitea.prs) == 60
    forge = client(gitea)
    found = forge.find_open("pw/oldest")
    assert found is not None
    assert found.number == target.number
    pages = [r for r in gitea.requests if r.startswith("GET")]
    assert "page=1&limit=50" in pages[0] and "page=2&limit=50" in pages[1]
    gitea.requests.clear()
    assert forge.find_open("pw/missing") is None
    assert len(gitea.requests) == 2  # stops after the last page


def test_gitea_create_twice_after_pagination(gitea: FakeForge) -> None:
    for i in range(55):
        gitea.add(f"feature/{i}")
    forge = client(gitea)
    first = forge.create("pw/a", "main", "t", "b")
    assert forge.create("pw/a", "main", "t", "b") == first


def test_github_rate_limit_403_is_transient_not_auth() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            403,
            json={"message": "API rate limit exceeded for user ID 1."},
            headers={"x-ratelimit-remaining": "0"},
        )

    forge = GitHubForge("o", "r", "tok-xyz", transport=httpx.MockTransport(handler), **FAST)
    with pytest.raises(ForgeError) as exc:
        forge.find_open("x")
    assert exc.value.transient and "rate-limited" in str(exc.value)


def test_oversized_answer_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"[" + b" " * (9 * 1024 * 1024) + b"]")

    forge = GiteaForge(
        "o",
        "r",
        "t0k",
        api_url="https://g.example/api/v1",
        transport=httpx.MockTransport(handler),
        **FAST,
    )
    with pytest.raises(ForgeError, match="larger than"):
        forge.find_open("x")


def test_token_echoed_by_a_server_is_redacted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": "token tok-s3cret-42 is not valid"})

    forge = GitHubForge("o", "r", "tok-s3cret-42", transport=httpx.MockTransport(handler), **FAST)
    with pytest.raises(ForgeError) as exc:
        forge.find_open("x")
    assert "tok-s3cret-42" not in str(exc.value) and "***" in str(exc.value)


def test_redirect_suggests_a_renamed_repository() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"Location": "https://api.github.com/repositories/9"})

    forge = GitHubForge("o", "r", "tok", transport=httpx.MockTransport(handler), **FAST)
    with pytest.raises(ForgeError, match="renamed"):
        forge.find_open("x")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "message": "Validation Failed",
                "errors": [{"code": "custom", "message": "No commits between main and x"}],
            },
            "Validation Failed: No commits between main and x",
        ),
        (
            {"message": ["Another open merge request already exists for this source branch: !3"]},
            "Another open merge request already exists for this source branch: !3",
        ),
        (
            {"message": {"title": ["is too long (maximum is 255 characters)"]}},
            "title is too long (maximum is 255 characters)",
        ),
        ({"error": "title is missing"}, "title is missing"),
        ({"message": "[Title]: Required", "url": "https://g/api/swagger"}, "[Title]: Required"),
        ([1, 2], ""),
    ],
)
def test_api_message_shapes(body: object, expected: str) -> None:
    assert api_message(body) == expected
