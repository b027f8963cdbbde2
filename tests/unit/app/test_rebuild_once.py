"""The rebuild's push through the side-effect ledger: a re-delivered rebuild job that built
again (a new digest: builds are not reproducible) pushes nothing for the same base and
reports what the earlier attempt pushed. A real SQLite state store holds the ledger; the
builder, publisher and registry are counting stand-ins (the integration tests in
tests/integration/test_rebuild*.py build and push for real with buildah and skopeo)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from patchwarden.app.rebuild.model import BuildSpec, Outcome
from patchwarden.app.rebuild.pipeline import Rebuilder, Tools
from patchwarden.core.ref import parse_reference
from patchwarden.store import open_store
from patchwarden.store.effects import EffectLedger, OwnedLedger

BASE = "sha256:" + "b" * 64


class Builder:
    def __init__(self) -> None:
        self.builds = 0

    @property
    def digest(self) -> str:
        return "sha256:" + f"{self.builds:x}" * 64

    def build(self, req: Any) -> str:
        self.builds += 1
        return f"image{self.builds}"

    def export(self, image: str, layout: Path, tag: str) -> str:
        return self.digest

    def remove(self, image: str) -> None:
        pass

    def read_file(self, image: str, path: str) -> bytes | None:
        return None


class Publisher:
    def __init__(self, builder: Builder) -> None:
        self.builder = builder
        self.pushed: list[str] = []

    def push(self, layout: Path, tag: str, dest: str) -> str:
        self.pushed.append(dest)
        return self.builder.digest


class Inner:
    def head_manifest(self, ref: Any) -> Any:
        return SimpleNamespace(digest=BASE)

    def list_tags(self, ref: Any) -> list[str]:
        return []


def _rebuilder(tmp: Path, effects: Any) -> tuple[Rebuilder, Publisher]:
    builder = Builder()
    publisher = Publisher(builder)
    tools = Tools(builder, None, publisher, lambda url: None)  # type: ignore[arg-type]
    registry: Any = SimpleNamespace(inner=Inner())
    return Rebuilder(registry, tools, None, None, effects=effects), publisher


def test_a_rebuild_job_delivered_again_pushes_nothing_for_the_same_base(tmp_path: Path) -> None:
    spec = BuildSpec(
        name="app",
        context=tmp_path,
        dockerfile=tmp_path / "Dockerfile",
        destination=parse_reference("registry.example/team/app"),
        base=parse_reference("registry.example/base:1"),
        gate="off",
    )
    with open_store(str(tmp_path / "s.db")) as store:
        ledger = EffectLedger(store.engine)
        first, pub1 = _rebuilder(tmp_path, OwnedLedger(ledger, "worker a"))
        done = first.run(spec)
        assert done.outcome == Outcome.PUSHED and len(pub1.pushed) == 3  # digest, tag, latest
        # the job is delivered again (its worker died before the task was marked done): a
        # new process builds again, gets another digest, and must not push it
        again, pub2 = _rebuilder(tmp_path, OwnedLedger(ledger, "worker b"))
        again_builder = again.tools.builder
        assert isinstance(again_builder, Builder)
        again_builder.builds = 1  # its build differs from the first one's
        redone = again.run(spec)
        assert pub2.pushed == []
        assert redone.outcome == Outcome.PUSHED
        assert (redone.digest, redone.tags) == (done.digest, done.tags)
        assert "pushed by an earlier attempt" in redone.steps[-1].detail
        # without the ledger the same second run pushes a second image for the same base
        plain, pub3 = _rebuilder(tmp_path, None)
        plain.run(spec)
        assert len(pub3.pushed) == 3
