"""`rebuild --then update` and `--then rollout` against real parts: the project is a real git
clone of a bare repository (its `origin`), the build is real (buildah, loopback registry).

- update: the compose file's `:latest` reference gains the new digest, the Kubernetes
  manifest's older immutable tag moves to the new one; committed on update's branch and pushed
  to the bare remote; the working tree is left alone.
- rollout: a GitOps environment (a second bare repository) gets the new digest committed to
  its kustomize overlay by `rollout start REPO@DIGEST`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.store import open_store
from testkit.fake_forge import FakeForge
from testkit.gitrepo import git, repo_with
from testkit.podman import push_web_image
from testkit.rebuild_setup import PASSWORD, WEB, WEB_TESTS, as_json, cli, env, keypair, ns

pytestmark = pytest.mark.integration
__all__ = ["env", "ns"]  # fixtures
NO_GATE = "    gates: {new_vulnerabilities: off}\n"


def test_then_update_pins_the_new_digest_on_a_pushed_branch(
    env: dict[str, str], plain_registry: RegistryServer, tmp_path: Path, ns: str
) -> None:
    host = plain_registry.host
    push_web_image(tmp_path / "l1", host, f"{ns}/base", "1", version="v1")
    dest = f"{host}/{ns}/app"
    compose = f"services:\n  web:\n    image: {dest}:latest  # the app\n"
    k8s = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n"
        f"    - name: web\n      image: {dest}:1.0-20200101.1\n"
    )
    config = f"version: 1\nbuilds:\n  - name: app\n    destination: {dest}\n"
    config += '    version: "1.0"\n' + NO_GATE
    bare, work = repo_with(
        tmp_path,
        "project",
        {
            "Containerfile": WEB.format(base=f"{host}/{ns}/base:1"),
            "patchwarden.yaml": config,
            "deploy/compose.yaml": compose,
            "k8s/pod.yaml": k8s,
        },
    )
    run = cli(env, str(work), "--then", "update", "--update-mode", "push", "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    doc = as_json(run)
    built = doc["builds"][0]
    digest, immutable = built["digest"], built["tags"][0]
    (then,) = built["then"]
    assert then["kind"] == "update" and then["ok"] is True, then
    assert built["steps"][-1]["name"] == "then update" and built["steps"][-1]["ok"]
    (group,) = then["update"]["groups"]
    assert group["pushed"] is True and group["commit"]
    branch = group["branch"]
    assert git("ls-remote", "--heads", str(bare), branch, cwd=tmp_path), "branch not pushed"
    assert git("show", f"{branch}:deploy/compose.yaml", cwd=work) + "\n" == compose.replace(
        f"{dest}:latest", f"{dest}:latest@{digest}"
    )
    assert f"image: {dest}:{immutable}@{digest}" in git("show", f"{branch}:k8s/pod.yaml", cwd=work)
    assert (work / "deploy" / "compose.yaml").read_text() == compose, "working tree untouched"

    again = as_json(cli(env, str(work), "--force", "--then", "update", "--update-mode", "write",
                        "--format", "json"))  # fmt: skip
    assert again["builds"][0]["then"][0]["ok"] is True
    text = (work / "deploy" / "compose.yaml").read_text()
    assert f"{dest}:latest@{again['builds'][0]['digest']}" in text, text


def test_then_rollout_starts_a_rollout_of_the_new_digest(
    env: dict[str, str], plain_registry: RegistryServer, tmp_path: Path, ns: str
) -> None:
    host = plain_registry.host
    push_web_image(tmp_path / "l1", host, f"{ns}/base", "1", version="v1")
    dest = f"{host}/{ns}/app"
    overlay = "overlays/prod/kustomization.yaml"
    ops, _ = repo_with(
        tmp_path,
        "ops",
        {
            overlay: (
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                f"images:\n  - name: {dest}\n    newTag: latest\n"
            )
        },
    )
    proj = tmp_path / "p"
    proj.mkdir()
    (proj / "Containerfile").write_text(WEB.format(base=f"{host}/{ns}/base:1"))
    (proj / "patchwarden.yaml").write_text(
        f"version: 1\nbuilds:\n  - name: app\n    destination: {dest}\n{NO_GATE}"
        f"environments:\n  - name: prod\n    gitops:\n      repo: {ops}\n"
        f"      files: [{overlay}]\n"
    )
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "Containerfile").write_text(WEB.format(base=f"{host}/{ns}/base:1"))
    no_env = cli(env, str(plain), "--to", dest, "--then", "rollout")
    assert no_env.returncode == 2 and "no environments are configured" in no_env.stderr

    run = cli(env, str(proj), "--then", "rollout", "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    doc = as_json(run)
    digest = doc["builds"][0]["digest"]
    (then,) = doc["builds"][0]["then"]
    assert then["kind"] == "rollout" and then["ok"] is True, then
    assert then["rollout"]["digest"] == digest and then["rollout"]["status"] == "succeeded"
    assert (
        f"digest: {digest}"
        in subprocess.run(
            ["git", "--git-dir", str(ops), "show", f"main:{overlay}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def test_full_rebuild_every_step_in_report_and_store(
    env: dict[str, str], plain_registry: RegistryServer, tmp_path: Path, ns: str
) -> None:
    """Build, tests, scan diff, push, sign, record and pull request in one run. The forge is
    the stand-in from tests/testkit/fake_forge.py (no GitLab can run here); git, the
    registry, buildah, podman and the state store are real."""
    host = plain_registry.host
    push_web_image(tmp_path / "l1", host, f"{ns}/base", "1", version="v1")
    dest = f"{host}/{ns}/app"
    key, pub = keypair(tmp_path / "keys")
    config = f"version: 1\nbuilds:\n  - name: app\n    destination: {dest}\n{WEB_TESTS}"
    config += f"    signing_key: {key}\n"
    compose = f"services:\n  web:\n    image: {dest}:latest\n"
    _, work = repo_with(
        tmp_path,
        "project",
        {
            "Containerfile": WEB.format(base=f"{host}/{ns}/base:1"),
            "patchwarden.yaml": config,
            "compose.yaml": compose,
        },
    )
    fake = FakeForge("gitlab", repo="acme/app")
    try:
        run = cli(
            {**env, "COSIGN_PASSWORD": PASSWORD, "GITLAB_TOKEN": fake.token},
            str(work),
            "--then", "update",
            "--forge", "gitlab",
            "--forge-url", "https://gitlab.example.com/acme/app",
            "--forge-api", fake.api_url,
            "--format", "json",
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        built = as_json(run)["builds"][0]
        names = [s["name"] for s in built["steps"]]
        assert names == [
            "resolve base",
            "build",
            "test: /bin/busybox cat /www/built",
            "file: /www/version",
            "health",
            "scan",
            "sign",
            "push",
            "then update",
        ], built["steps"]
        assert all(s["ok"] for s in built["steps"]), built["steps"]
        (pr,) = fake.prs.values()
        assert built["digest"] in pr.body or built["digest"][7:19] in pr.body, pr.body
        assert built["then"][0]["update"]["groups"][0]["pull_request"]
        assert fake.token not in run.stdout + run.stderr and PASSWORD not in run.stdout
    finally:
        fake.stop()
    with open_store(env["PATCHWARDEN_STATE"]) as store:
        rec = store.last_pushed_build("app", dest)
    assert rec is not None and rec.image_digest == built["digest"]
    assert [s["name"] for s in rec.steps] == names
    assert "then update" in names and rec.steps[-1]["ok"] is True
    verify = subprocess.run(
        [
            sys.executable,
            "-m",
            "patchwarden.cli.main",
            "verify",
            f"{dest}:latest",
            "--key",
            str(pub),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
