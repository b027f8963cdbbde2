"""The rollout use case end to end on GitOps environments in real git repositories (no engine
needed): approval, abort, exit codes, the runner lock, and the errors a user meets."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

from patchwarden.app.rollout import Rollouts, RolloutStatus, Sample
from patchwarden.config.rollout import Environment
from patchwarden.errors import ExitCode, UsageError
from patchwarden.store import open_store

IMAGE = "registry.example.com/shop/web"
D2 = "sha256:" + "2" * 64
VALUES = "image:\n  repository: registry.example.com/shop/web\n  tag: '1.4'  # app\n"


class NoMetrics:
    def query(self, base_url: str, promql: str) -> list[Sample]:
        raise AssertionError("no metrics gate configured")


def _bare(tmp_path: Path, name: str) -> Path:
    def git(*args: str, cwd: Path) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args],
            cwd=cwd,
            check=True,
            capture_output=True,
        )

    bare = tmp_path / f"{name}.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare), cwd=tmp_path)
    work = tmp_path / f"{name}-clone"
    git("clone", "--quiet", str(bare), str(work), cwd=tmp_path)
    (work / "values.yaml").write_text(VALUES)
    git("add", ".", cwd=work)
    git("commit", "--quiet", "-m", "init", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    return bare


def _show(bare: Path) -> str:
    return subprocess.run(
        ["git", "show", "main:values.yaml"], cwd=bare, check=True, capture_output=True, text=True
    ).stdout


def _service(tmp_path: Path, envs: list[dict[str, object]]) -> Rollouts:
    store = open_store(str(tmp_path / "state.db"))

    def no_engine(url: str | None) -> NoReturn:
        raise AssertionError("no engine environment configured")

    return Rollouts(
        store.rollouts,
        store,
        [Environment.model_validate(e) for e in envs],
        engines=no_engine,
        metrics=NoMetrics(),
        workdir=str(tmp_path),
    )


def test_approval_wait_then_abort_undoes_the_earlier_environment(tmp_path: Path) -> None:
    staging, prod = _bare(tmp_path, "staging"), _bare(tmp_path, "prod")
    svc = _service(
        tmp_path,
        [
            {
                "name": "staging",
                "gitops": {"repo": str(staging), "files": ["values.yaml"]},
                "gates": {"tests": [{"run": 'test "$PATCHWARDEN_ROLLOUT_ENV" = staging'}]},
            },
            {
                "name": "prod",
                "gitops": {"repo": str(prod), "files": ["values.yaml"]},
                "approval": "manual",
            },
        ],
    )
    report = svc.start(f"{IMAGE}:1.5@{D2}")
    assert report.status == RolloutStatus.WAITING_APPROVAL
    assert report.exit_code() == ExitCode.PENDING
    pinned = VALUES.replace("tag: '1.4'  # app\n", f"tag: '1.5'  # app\n  digest: {D2}\n")
    assert _show(staging) == pinned, "the values file's tag and digest fields, nothing else"
    assert _show(prod) == VALUES, "prod waits for its approval"
    with pytest.raises(UsageError, match="waits for approval of prod"):
        svc.resume(report.id)

    aborted = svc.abort(report.id)
    assert aborted.status == RolloutStatus.ABORTED
    assert aborted.exit_code(undoing=True) == ExitCode.OK
    assert _show(staging) == VALUES, "abort undid staging's commit"
    kinds = [(s["kind"], s["name"], s["outcome"]) for s in aborted.doc["steps"]]
    assert ("approval", "manual", "waiting") in kinds
    assert ("rollback", "staging", "rolled-back") in kinds
    with pytest.raises(UsageError, match="already finished"):
        svc.abort(report.id)


def test_approve_records_who_and_continues(tmp_path: Path) -> None:
    prod = _bare(tmp_path, "prod")
    env = {"name": "prod", "gitops": {"repo": str(prod), "files": ["values.yaml"]}}
    svc = _service(tmp_path, [{**env, "approval": "manual"}])
    waiting = svc.start(f"{IMAGE}@{D2}")
    done = svc.approve(waiting.id, "alice")
    assert done.status == RolloutStatus.SUCCEEDED and done.exit_code() == ExitCode.OK
    (envdoc,) = done.doc["environments"]
    assert envdoc["approval"]["by"] == "alice"
    assert _show(prod) == VALUES.replace("# app\n", f"# app\n  digest: {D2}\n")
    with pytest.raises(UsageError, match="is succeeded, not waiting"):
        svc.approve(waiting.id, "bob")


def test_user_errors(tmp_path: Path) -> None:
    svc = _service(tmp_path, [])
    with pytest.raises(UsageError, match="names no digest"):
        svc.start(f"{IMAGE}:1.5")
    with pytest.raises(UsageError, match="no environments are configured"):
        svc.start(f"{IMAGE}@{D2}")
    with pytest.raises(UsageError, match="no rollout is unfinished"):
        svc.resume()
    with pytest.raises(UsageError, match="there is no rollout 42"):
        svc.status(42)


def test_a_live_runner_is_not_taken_over_and_a_dead_one_is(tmp_path: Path) -> None:
    prod = _bare(tmp_path, "prod")
    svc = _service(
        tmp_path,
        [{"name": "prod", "gitops": {"repo": str(prod), "files": ["values.yaml"]}}],
    )
    store = svc.store
    from datetime import UTC, datetime

    from patchwarden.app.rollout.model import EnvState, RolloutState

    state = RolloutState(
        IMAGE,
        D2,
        [EnvState("prod", "gitops")],
        [e.model_dump(mode="json") for e in svc.environments],
    )
    rid = store.create(IMAGE, D2, state.to_dict(), datetime.now(UTC))
    me = socket.gethostname()
    parent = f"{me}:{os.getppid()}"  # alive, not us
    assert store.claim(rid, None, parent)
    with pytest.raises(UsageError, match="is being run by process"):
        svc.resume(rid)
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert store.claim(rid, parent, f"{me}:{dead.pid}")
    report = svc.resume(rid)
    assert report.status == RolloutStatus.SUCCEEDED
    assert report.doc["runner"] is None, "the runner is cleared when it stops"


def test_cli_table_and_json(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from patchwarden.cli.main import app

    prod = _bare(tmp_path, "prod")
    cfg = tmp_path / "patchwarden.yaml"
    env = {"name": "prod", "gitops": {"repo": str(prod), "files": ["values.yaml"]}}
    cfg.write_text(json.dumps({"environments": [env]}))
    common = ["--config", str(cfg), "--state", str(tmp_path / "state.db")]
    runner = CliRunner()
    res = runner.invoke(app, ["rollout", "start", f"{IMAGE}@{D2}", *common])
    assert res.exit_code == 0, res.output
    assert "prod (gitops): succeeded" in res.stdout
    assert "wave 0 commit [values.yaml#0]: passed" in res.stdout
    res = runner.invoke(app, ["rollout", "list", *common])
    assert res.exit_code == 0 and "succeeded" in res.stdout
    res = runner.invoke(app, ["rollout", "status", "--format", "json", *common])
    doc = json.loads(res.stdout)
    assert doc["status"] == "succeeded" and doc["environments"][0]["gitops"]["state"] == "new"
    res = runner.invoke(app, ["rollout", "start", f"{IMAGE}:1.5", *common])
    assert res.exit_code == 2 and "names no digest" in res.stderr
