"""A GitOps environment after an engine staging: the digest is committed to a kustomize overlay
in a real git repository (bare, as a GitOps controller's source would be) only after staging's
gates passed, never before; a rollback commits the overlay back byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.devtools.registry_server import RegistryServer
from testkit.gitrepo import git
from testkit.podman import push_web_image
from testkit.rollout_setup import (
    SMOKE,
    Fleet,
    cli,
    engine,
    engine_url,
    env_doc,
    environment,
    fleet,
    layouts,
    write_config,
)

pytestmark = pytest.mark.integration
__all__ = ["engine", "engine_url", "fleet", "layouts"]  # fixtures used by name

OVERLAY = "overlays/prod/kustomization.yaml"


def _ops_repo(tmp_path: Path, image: str) -> tuple[Path, str]:
    """A bare repository with a kustomize overlay pinning ``image``:1.0.0; (path, overlay)."""
    bare = tmp_path / "ops.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare), cwd=tmp_path)
    work = tmp_path / "ops-clone"
    git("clone", "--quiet", str(bare), str(work), cwd=tmp_path)
    text = (
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        "resources:\n"
        "  - ../../base  # the shared manifests\n"
        "images:\n"
        f"  - name: {image}  # the web app\n"
        "    newTag: 1.0.0\n"
    )
    (work / OVERLAY).parent.mkdir(parents=True)
    (work / OVERLAY).write_text(text)
    git("add", ".", cwd=work)
    git("commit", "--quiet", "-m", "prod overlay", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    return bare, text


def test_digest_reaches_the_overlay_only_after_staging_gates_pass(
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    fleet: Fleet,
    tmp_path: Path,
) -> None:
    repo = f"web-gitops-{fleet.prefix}"
    image = f"{plain_registry.host}/{repo}"
    push_web_image(
        layouts, plain_registry.host, repo, "1.0.0", version="v1", extra={"www/smoke": SMOKE}
    )
    good = push_web_image(
        layouts, plain_registry.host, repo, "1.0.1", version="v2", extra={"www/smoke": SMOKE}
    )
    bad = push_web_image(layouts, plain_registry.host, repo, "1.0.2", version="v3")  # no /smoke
    staging = fleet.run(f"{image}:1.0.0", "staging", 1)
    bare, original = _ops_repo(tmp_path, image)
    first = git("rev-parse", "main", cwd=bare)
    smoke = f"/bin/busybox wget -q -O- http://127.0.0.1:{fleet.ports[staging[0]]}/smoke"
    config = write_config(
        tmp_path / "patchwarden.yaml",
        plain_registry.host,
        [
            environment("staging", engine_url, fleet.label("staging"), tests=[{"run": smoke}]),
            {"name": "prod", "gitops": {"repo": str(bare), "files": [OVERLAY]}},
        ],
    )
    state = tmp_path / "state.db"

    code, doc, err = cli("start", f"{image}@{bad}", config=config, state=state)
    assert code == 3, err
    assert doc["stopped"]["environment"] == "staging"
    assert git("rev-parse", "main", cwd=bare) == first, "no commit for an image staging refused"

    code, doc, err = cli("start", f"{image}@{good}", config=config, state=state)
    assert code == 0, (err, doc.get("stopped"))
    prod = env_doc(doc, "prod")
    commit = prod["gitops"]["commit"]
    assert prod["gitops"]["state"] == "new"
    assert git("rev-parse", "main", cwd=bare) == commit
    assert git("rev-parse", f"{commit}^", cwd=bare) == first
    after = git("show", f"main:{OVERLAY}", cwd=bare) + "\n"
    assert after == original.replace(
        "    newTag: 1.0.0\n", f"    newTag: 1.0.0\n    digest: {good}\n"
    ), "only the digest line is added; comments and layout stay"
    staging_gates_end = max(s["finished_at"] for s in doc["steps"] if s["environment"] == "staging")
    commit_step = next(
        s for s in doc["steps"] if s["environment"] == "prod" and s["name"] == "deploy"
    )
    assert commit_step["started_at"] >= staging_gates_end

    code, back, err = cli("rollback", str(doc["id"]), config=config, state=state)
    assert code == 0, err
    assert env_doc(back, "prod")["gitops"]["state"] == "old"
    assert git("show", f"main:{OVERLAY}", cwd=bare) + "\n" == original
    assert git("rev-parse", "main^", cwd=bare) == commit, "rolled back by a new commit"
