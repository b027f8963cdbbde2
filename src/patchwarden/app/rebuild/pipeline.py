"""One rebuild: resolve base, build, test, scan and gate, push, sign, record.

Nothing reaches the registry before every test and gate passed: the image is built into the
local store, exported to a private OCI layout (what is scanned is what is pushed, byte for
byte), and only then pushed (:mod:`~patchwarden.app.rebuild.publish`: by digest, the
signature, then the tags). A stop or an error before the push leaves the registry as it was.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from patchwarden.app.check.vulns import Key, key
from patchwarden.app.effects import EffectGuard
from patchwarden.app.rebuild.due import BuildHistory
from patchwarden.app.rebuild.gates import ScanDiff, diff, gate_stops, run_tests
from patchwarden.app.rebuild.model import (
    LABEL_BASE_DIGEST,
    LABEL_BASE_NAME,
    LABEL_CREATED,
    LABEL_REVISION,
    BuildResult,
    BuildSpec,
    DueDecision,
    Handover,
    Outcome,
    Step,
)
from patchwarden.app.rebuild.publish import ImageSigning, Publication, Signers
from patchwarden.app.rebuild.state import BuildState, Stop, since
from patchwarden.app.rebuild.tools import (
    Builder,
    BuildRequest,
    Publisher,
    Runner,
    verify_tls,
)
from patchwarden.cache.registry import CachingRegistry
from patchwarden.core.digest import short_hex
from patchwarden.core.ref import ImageRef
from patchwarden.core.words import plural
from patchwarden.errors import PatchwardenError
from patchwarden.scan.model import Finding
from patchwarden.store.builds import BuildRecord

SIGNING_UNAVAILABLE = "signing_key is set, but this run has no signer"


class ImageScanner(Protocol):
    def scan_layout(self, layout: Path, tag: str) -> list[Finding]: ...

    def scan_registry(self, image: ImageRef) -> list[Finding]: ...


class BuildStore(BuildHistory, Protocol):
    def record_build(self, rec: BuildRecord) -> BuildRecord: ...


@dataclass(frozen=True)
class Tools:
    builder: Builder
    runner: Runner
    publisher: Publisher
    probe: Callable[[str], int | None]
    insecure_hosts: frozenset[str] = frozenset()
    signers: Signers | None = None
    # best-effort removal of an untagged manifest (repository, digest) -> removed
    discard: Callable[[ImageRef, str], bool] | None = None


def git_revision(context: Path) -> str | None:
    try:
        done = subprocess.run(  # noqa: S603 - argv list, no shell
            ["git", "-C", str(context), "rev-parse", "HEAD"],  # noqa: S607 - git from PATH
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    rev = done.stdout.decode().strip()
    return rev if done.returncode == 0 and rev else None


def finding_rows(findings: Sequence[Finding]) -> list[list[str]]:
    return [[*key(f), f.severity.value, f.status.value] for f in findings]


class Rebuilder:
    def __init__(
        self,
        registry: CachingRegistry,
        tools: Tools,
        scanner: ImageScanner | None,
        store: BuildStore | None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        effects: EffectGuard | None = None,
    ) -> None:
        """``effects``: the push of a build (for its base digest and revision) is carried out
        once through it (``serve``'s rebuild job: a retried or re-delivered job that built
        again pushes nothing new, and reports what the earlier attempt pushed)."""
        self.registry = registry
        self.tools = tools
        self.scanner = scanner
        self.store = store
        self.now = now
        self.effects = effects

    def run(
        self,
        spec: BuildSpec,
        due: DueDecision | None = None,
        then: Callable[[BuildResult], list[Handover]] | None = None,
    ) -> BuildResult:
        """Build, test, scan, push, sign; then (for a pushed build) the ``then`` hand-over;
        record everything, hand-over steps included."""
        started, t0 = self.now(), time.monotonic()
        state = BuildState()
        with tempfile.TemporaryDirectory(prefix="patchwarden-rebuild-") as tmp:
            try:
                self._pipeline(spec, due, Path(tmp), state)
                outcome, reason = Outcome.PUSHED, f"pushed {', '.join(state.tags)}"
            except Stop as stop:
                outcome, reason = stop.outcome, stop.reason
            except PatchwardenError as exc:
                outcome, reason = Outcome.FAILED, str(exc)
                state.steps.append(Step(state.current, False, str(exc)))
            finally:
                if state.image is not None:
                    self.tools.builder.remove(state.image)
        result = _result(spec, due, outcome, reason, state, time.monotonic() - t0)
        if then is not None and outcome == Outcome.PUSHED:
            result = _handed_over(result, then(result))
        return self._record(spec, result, started, state)

    def _pipeline(
        self, spec: BuildSpec, due: DueDecision | None, tmp: Path, st: BuildState
    ) -> None:
        """The steps in order; each sets ``st.current`` first (an error is reported there)."""
        signer = self._signer(spec, st)  # a bad key stops us before anything is built
        self._resolve_base(spec, st)
        self._build(spec, st)
        st.current = "export"
        layout = tmp / "layout"
        st.digest = self.tools.builder.export(st.image or "", layout, "build")
        self._test(spec, st)
        self._scan_gate(spec, layout, due, st)
        st.current = "push"
        publication = Publication(
            self.registry.inner,
            self.tools.publisher,
            discard=self.tools.discard,
            effects=self.effects,
            now=self.now,
        )
        publication.run(spec, layout, st, signer)

    def _signer(self, spec: BuildSpec, st: BuildState) -> ImageSigning | None:
        if not spec.signing_key:
            return None
        st.current = "signing key"
        if self.tools.signers is None:
            raise PatchwardenError(SIGNING_UNAVAILABLE)
        return self.tools.signers.for_key(spec.signing_key)

    def _resolve_base(self, spec: BuildSpec, st: BuildState) -> None:
        st.current = "resolve base"
        t = time.monotonic()
        st.base_digest = self.registry.inner.head_manifest(spec.base).digest
        st.revision = git_revision(spec.context)
        st.steps.append(Step("resolve base", True, f"{spec.base}@{st.base_digest}", since(t)))

    def _build(self, spec: BuildSpec, st: BuildState) -> None:
        """Build with the base and revision labels; refuse a base that moved meanwhile."""
        st.current = "build"
        t = time.monotonic()
        labels = {
            LABEL_BASE_NAME: str(spec.base.with_digest(None)),
            LABEL_BASE_DIGEST: st.base_digest or "",
            LABEL_CREATED: self.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if st.revision:
            labels[LABEL_REVISION] = st.revision
        req = BuildRequest(
            context=spec.context,
            dockerfile=spec.dockerfile,
            tag=f"localhost/patchwarden-rebuild/{uuid.uuid4().hex[:12]}:build",
            target=spec.target,
            build_args=spec.build_args,
            labels=labels,
            annotations=labels,
            tls_verify=verify_tls(spec.base.registry, self.tools.insecure_hosts),
        )
        st.image = self.tools.builder.build(req)
        after = self.registry.inner.head_manifest(spec.base).digest
        if after != st.base_digest:
            raise PatchwardenError(
                f"{spec.base} moved during the build ({st.base_digest} -> {after}): the image "
                "may not be built on the recorded base",
                "run rebuild again",
                transient=True,
            )
        st.steps.append(Step("build", True, f"built on {spec.base}@{st.base_digest}", since(t)))

    def _test(self, spec: BuildSpec, st: BuildState) -> None:
        st.current = "test"
        image = st.image or ""
        for step in run_tests(spec, image, self.tools.builder, self.tools.runner, self.tools.probe):
            st.steps.append(step)
            if not step.ok:
                raise Stop(Outcome.STOPPED, f"{step.name} failed: {step.detail}")

    def _scan_gate(
        self, spec: BuildSpec, layout: Path, due: DueDecision | None, st: BuildState
    ) -> None:
        st.current = "scan"
        t = time.monotonic()
        if self.scanner is None or spec.gate == "off":
            st.steps.append(Step("scan", True, "skipped: gates.new_vulnerabilities is off"))
            return
        st.scan = self._scan(spec, layout, due, st)
        stop = gate_stops(st.scan, spec.gate)
        st.steps.append(Step("scan", stop is None, stop or _scan_text(st.scan), since(t)))
        if stop:
            raise Stop(Outcome.STOPPED, f"scan gate: {stop}")

    def _scan(
        self, spec: BuildSpec, layout: Path, due: DueDecision | None, st: BuildState
    ) -> ScanDiff:
        """The built image's findings against the last build's, else the last image's, else
        the base image's."""
        assert self.scanner is not None and st.base_digest is not None  # noqa: S101 - set by the caller when the scan gate is on
        found = self.scanner.scan_layout(layout, "build")
        last = (
            self.store.last_pushed_build(spec.name, str(spec.destination)) if self.store else None
        )
        previous: list[Key]
        if last is not None and last.image_digest:
            previous = [(row[0], row[1]) for row in last.findings]
            what = f"the last build {spec.destination}@{short_hex(last.image_digest)}"
        elif due is not None and due.last_digest:
            image = spec.destination.with_digest(due.last_digest)
            previous = [key(f) for f in self.scanner.scan_registry(image)]
            what = f"the last image {spec.destination}@{short_hex(due.last_digest)}"
        else:
            image = spec.base.with_digest(st.base_digest)
            previous = [key(f) for f in self.scanner.scan_registry(image)]
            what = f"the base image {spec.base}"
        return diff(found, previous, what)

    def _record(
        self, spec: BuildSpec, r: BuildResult, started: datetime, st: BuildState
    ) -> BuildResult:
        if self.store is None:
            return r
        rec = BuildRecord(
            id=None,
            name=spec.name,
            destination=str(spec.destination),
            started_at=started,
            finished_at=self.now(),
            outcome=r.outcome.value,
            reason=r.reason,
            base_name=str(spec.base.with_digest(None)),
            base_digest=st.base_digest,
            image_digest=r.digest,
            tags=list(r.tags),
            revision=st.revision,
            due_reasons=[x.kind.value for x in (r.due.reasons if r.due else ())],
            findings=finding_rows(st.scan.findings) if st.scan else [],
            fixed=list(r.fixed),
            introduced=list(r.introduced),
            fixable=st.scan.fixable if st.scan else None,
            steps=[
                {"name": s.name, "ok": s.ok, "detail": s.detail, "duration_s": s.duration_s}
                for s in r.steps
            ],
            duration_s=r.duration_s,
        )
        stored = self.store.record_build(rec)
        return replace(r, record_id=stored.id)


def _result(
    spec: BuildSpec,
    due: DueDecision | None,
    outcome: Outcome,
    reason: str,
    st: BuildState,
    duration_s: float,
) -> BuildResult:
    pushed = outcome == Outcome.PUSHED
    return BuildResult(
        name=spec.name,
        destination=str(spec.destination),
        outcome=outcome,
        reason=reason,
        due=due,
        digest=st.digest if pushed else None,
        tags=tuple(st.tags),
        signature=st.signature if pushed else None,
        base_digest=st.base_digest,
        steps=tuple(st.steps),
        fixed=tuple(f"{i} ({p})" for i, p in (st.scan.fixed if st.scan else ())),
        introduced=tuple(f"{f.id} ({key(f)[1]})" for f in (st.scan.introduced if st.scan else ())),
        duration_s=duration_s,
    )


def _handed_over(result: BuildResult, handovers: list[Handover]) -> BuildResult:
    steps = [Step(f"then {h.kind.value}", h.ok, h.detail, h.duration_s) for h in handovers]
    return replace(result, steps=(*result.steps, *steps), then=tuple(handovers))


def _scan_text(d: ScanDiff) -> str:
    return (
        f"{plural(len(d.findings), 'finding')} ({d.fixable} fixable); "
        f"compared with {d.compared_with}: {len(d.fixed)} fixed, {len(d.introduced)} introduced"
    )


__all__ = ["BuildStore", "ImageScanner", "Rebuilder", "Tools", "git_revision"]
