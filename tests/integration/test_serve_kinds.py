"""Job kinds of ``serve`` through the one table (``service.kinds.KINDS``): each runs the
use case of the CLI and returns a result record. Real registry (skopeo pushes), real git
repositories; pull requests go to the forge stand-in of testkit/fake_forge.py
(no forge server can run here); the job-changed alert to a real HTTP receiver."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from patchwarden.config.schema import Config
from patchwarden.config.serve import JobName
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from patchwarden.service.kinds import KINDS, run_kind
from patchwarden.service.process import Service
from testkit.receiver import WebhookSink

pytestmark = pytest.mark.integration
ADMIN = "pw-admin-" + "3" * 32


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


@pytest.fixture()
def served(plain_registry: RegistryServer, tmp_path: Path) -> Iterator[tuple[Service, WebhookSink]]:
    work = tmp_path / "work"
    work.mkdir()
    with WebhookSink() as sink:
        cfg = Config.model_validate(
            {
                "registries": {plain_registry.host: {"insecure": True}},
                "cache": {"dir": str(tmp_path / "cache")},
                "serve": {"notify": [{"url_env": "PW_HOOK", "events": ["job-changed"]}]},
            }
        )
        env = {"PATCHWARDEN_API_TOKEN": ADMIN, "PW_HOOK": sink.apprise_url()}
        svc = Service(cfg, [work], state=str(tmp_path / "s.db"), env=env)
        yield svc, sink
        svc.stop(1)


def test_every_kind_is_in_the_table_and_the_runner() -> None:
    assert set(KINDS) == set(JobName)


def test_update_kind_opens_pull_requests_once_and_announces_them(
    served: tuple[Service, WebhookSink],
    plain_registry: RegistryServer,
    pusher: Pusher,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from testkit.fake_forge import FakeForge

    svc, sink = served
    ns = f"k{uuid.uuid4().hex[:8]}"
    for tag in ("1.0.0", "1.1.0"):
        pusher.image(plain_registry, f"{ns}/web", tag)
    remote, work = tmp_path / "remote.git", Path(svc.ctx.paths[0])
    git(tmp_path, "init", "--bare", "-q", "-b", "main", str(remote))
    git(work, "init", "-q", "-b", "main")
    git(work, "remote", "add", "origin", str(remote))
    (work / "Dockerfile").write_text(f"FROM {plain_registry.host}/{ns}/web:1.0.0\n")
    (
        git(work, "add", "."),
        git(work, "commit", "-qm", "init"),
        git(work, "push", "-q", "origin", "main"),
    )
    fake = FakeForge("gitlab", repo="acme/app")
    monkeypatch.setenv("GITLAB_TOKEN", fake.token)
    params = {
        "forge": "gitlab",
        "forge_url": "https://gitlab.example.com/acme/app",
        "forge_api": fake.api_url,
    }
    try:
        first = run_kind(JobName.UPDATE, svc.ctx, params)
        assert first.changes == 1 and first.data["actions"] == {"committed": 1}, first
        assert len(fake.prs) == 1 and fake.prs[1].title.endswith("to 1.1.0")
        again = run_kind(JobName.UPDATE, svc.ctx, params)
        assert again.changes == 0 and len(fake.prs) == 1  # found by branch, not opened twice
    finally:
        fake.stop()
    assert [b["title"] for b in sink.bodies] == ["[patchwarden] job update: 1 change(s)"]
    assert fake.token not in first.summary + str(first.data)


def test_retention_kind_deletes_beyond_keep_last(
    served: tuple[Service, WebhookSink], plain_registry: RegistryServer, pusher: Pusher
) -> None:
    svc, sink = served
    repo = f"{plain_registry.host}/r{uuid.uuid4().hex[:8]}/app"
    for i, tag in enumerate(("1.0.0", "1.1.0", "1.2.0", "1.3.0")):
        pusher.image(plain_registry, repo.split("/", 1)[1], tag, salt=str(i))
    res = run_kind(
        JobName.RETENTION, svc.ctx, {"repositories": [repo], "keep_last": 2, "keep_rollback": 0}
    )
    assert res.changes == 2, res.summary
    kept = sorted(t for v in res.data["plans"][0]["kept"] for t in v["tags"])
    assert len(kept) == 2, res.data  # (the test images share one creation time)
    name = repo.split("/", 1)[1]
    listed = httpx.get(f"http://{plain_registry.host}/v2/{name}/tags/list").json()["tags"]
    assert sorted(listed) == kept  # deleted in the registry itself
    assert [b["title"] for b in sink.bodies] == ["[patchwarden] job retention: 2 change(s)"]


def test_rollout_kind_without_rollouts_and_misconfigured_kinds(
    served: tuple[Service, WebhookSink],
) -> None:
    from patchwarden.errors import UsageError

    svc, _ = served
    assert run_kind(JobName.ROLLOUT, svc.ctx, {}).summary.startswith("no rollout to advance")
    for kind, words in [
        (JobName.REBUILD, "declares no builds"),
        (JobName.ENGINE_UPDATE, "no engine configured"),
        (JobName.RETENTION, "no repositories given"),
    ]:
        with pytest.raises(UsageError) as e:
            run_kind(kind, svc.ctx, {})
        assert words in e.value.message
