"""One rebuild: resolve base, build, test, scan and gate, push, sign, record.

Nothing reaches the registry before every test and gate passed: the image is built into the
local store, exported to a private OCI layout (what is scanned is what is pushed, byte for
byte), and only then pushed. The push goes in this order, so that no tag ever names an image
that is not signed (when a signing key is set):

1. the manifest by digest, untagged (``REPO@sha256:...``): nothing resolves to it yet;
2. the signature (``sha256-<hex>.sig``), read back and verified with the public half;
3. the immutable tag, then the moving tag.

A stop or an error before step 1 leaves the registry as it was. A signing failure leaves at
most the untagged manifest, which is deleted when it was new and the registry allows deletes
(else the registry's garbage collection removes it); no tag points to it.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
from patchwarden.app.rebuild.tags import immutable_tag
from patchwarden.app.rebuild.tools import (
    Builder,
    BuildRequest,
    Publisher,
    Runner,
    verify_tls,
)
from patchwarden.app.trust.signer import Signed
from patchwarden.cache.registry import CachingRegistry
from patchwarden.core.ref import ImageRef
from patchwarden.core.words import plural
from patchwarden.errors import NotFoundError, PatchwardenError
from patchwarden.scan.model import Finding
from patchwarden.store.builds import BuildRecord

SIGNING_UNAVAILABLE = "signing_key is set, but this run has no signer"


class ImageScanner(Protocol):
    def scan_layout(self, layout: Path, tag: str) -> list[Finding]: ...

    def scan_registry(self, image: ImageRef) -> list[Finding]: ...


class ImageSigning(Protocol):
    def sign(self, image: ImageRef, digest: str) -> Signed: ...


class Signers(Protocol):
    def for_key(self, path: str) -> ImageSigning: ...


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


class _Stop(Exception):
    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome, self.reason = outcome, reason


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
        state = _State()
        with tempfile.TemporaryDirectory(prefix="patchwarden-rebuild-") as tmp:
            try:
                self._pipeline(spec, due, Path(tmp), state)
                outcome, reason = Outcome.PUSHED, f"pushed {', '.join(state.tags)}"
            except _Stop as stop:
                outcome, reason = stop.outcome, stop.reason
            except PatchwardenError as exc:
                outcome, reason = Outcome.FAILED, str(exc)
                state.steps.append(Step(state.current, False, str(exc)))
            finally:
                if state.image is not None:
                    self.tools.builder.remove(state.image)
        result = BuildResult(
            name=spec.name,
            destination=str(spec.destination),
            outcome=outcome,
            reason=reason,
            due=due,
            digest=state.digest if outcome == Outcome.PUSHED else None,
            tags=tuple(state.tags),
            signature=state.signature if outcome == Outcome.PUSHED else None,
            base_digest=state.base_digest,
            steps=tuple(state.steps),
            fixed=tuple(f"{i} ({p})" for i, p in (state.scan.fixed if state.scan else ())),
            introduced=tuple(
                f"{f.id} ({key(f)[1]})" for f in (state.scan.introduced if state.scan else ())
            ),
            duration_s=time.monotonic() - t0,
        )
        if then is not None and outcome == Outcome.PUSHED:
            result = _handed_over(result, then(result))
        return self._record(spec, result, started, state)

    def _pipeline(self, spec: BuildSpec, due: DueDecision | None, tmp: Path, st: _State) -> None:
        signer = None
        if spec.signing_key:
            st.current = "signing key"
            if self.tools.signers is None:
                raise PatchwardenError(SIGNING_UNAVAILABLE)
            signer = self.tools.signers.for_key(spec.signing_key)  # a bad key stops us here
        st.current = "resolve base"
        t = time.monotonic()
        st.base_digest = self.registry.inner.head_manifest(spec.base).digest
        st.revision = git_revision(spec.context)
        st.steps.append(Step("resolve base", True, f"{spec.base}@{st.base_digest}", _since(t)))

        st.current = "build"
        t = time.monotonic()
        created = self.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        labels = {
            LABEL_BASE_NAME: str(spec.base.with_digest(None)),
            LABEL_BASE_DIGEST: st.base_digest,
            LABEL_CREATED: created,
        }
        if st.revision:
            labels[LABEL_REVISION] = st.revision
        local = f"localhost/patchwarden-rebuild/{uuid.uuid4().hex[:12]}:build"
        req = BuildRequest(
            context=spec.context,
            dockerfile=spec.dockerfile,
            tag=local,
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
        st.steps.append(Step("build", True, f"built on {spec.base}@{st.base_digest}", _since(t)))

        st.current = "export"
        layout = tmp / "layout"
        st.digest = self.tools.builder.export(st.image, layout, "build")

        st.current = "test"
        for step in run_tests(
            spec, st.image, self.tools.builder, self.tools.runner, self.tools.probe
        ):
            st.steps.append(step)
            if not step.ok:
                raise _Stop(Outcome.STOPPED, f"{step.name} failed: {step.detail}")

        st.current = "scan"
        t = time.monotonic()
        if self.scanner is None or spec.gate == "off":
            st.steps.append(Step("scan", True, "skipped: gates.new_vulnerabilities is off"))
        else:
            st.scan = self._scan(spec, layout, due, st)
            stop = gate_stops(st.scan, spec.gate)
            st.steps.append(
                Step(
                    "scan",
                    stop is None,
                    stop or _scan_text(st.scan),
                    _since(t),
                )
            )
            if stop:
                raise _Stop(Outcome.STOPPED, f"scan gate: {stop}")

        st.current = "push"
        t = time.monotonic()
        if self.effects is None:
            self._publish(spec, layout, st, signer)
            st.steps.append(Step("push", True, f"{spec.destination}@{st.digest}", _since(t)))
            return
        # once per build and reason (base digest, revision): a retried or re-delivered job
        # that built again does not push a second image for the same base
        key = (
            f"image-push:{spec.destination}:{spec.name}:base={st.base_digest}"
            f":rev={st.revision or '-'}"
        )
        ran, done = self.effects.once(
            key, "image-push", lambda: self._publish(spec, layout, st, signer), lambda: False
        )
        if not ran:
            try:
                earlier = json.loads(done)
                st.digest, st.tags = earlier["digest"], list(earlier["tags"])
                st.signature = earlier.get("signature")
            except (ValueError, KeyError, TypeError):
                raise PatchwardenError(
                    f"the side-effect ledger's entry {key} is unreadable"
                ) from None
        what = f"{spec.destination}@{st.digest}" + (
            "" if ran else " (pushed by an earlier attempt of this job; this build is discarded)"
        )
        st.steps.append(Step("push", True, what, _since(t)))

    def _publish(
        self, spec: BuildSpec, layout: Path, st: _State, signer: ImageSigning | None
    ) -> str:
        """Push by digest, sign, then the tags; what was pushed, as JSON (the ledger keeps it)."""
        digest = st.digest or ""  # set by the export before any push
        tag = immutable_tag(
            spec, self._existing_tags(spec.destination), st.base_digest, st.revision, self.now()
        )
        existed = self._has_manifest(spec.destination, digest)
        self._push(layout, f"{spec.destination}@{digest}", digest)
        if signer is not None:
            st.current = "sign"
            ts = time.monotonic()
            try:
                signed = signer.sign(spec.destination, digest)
            except PatchwardenError as exc:
                raise PatchwardenError(
                    f"{exc.message}; {self._discard(spec.destination, digest, existed)}",
                    exc.hint,
                    transient=exc.transient,
                ) from exc
            st.signature = signed.signature_tag
            st.steps.append(
                Step("sign", True, f"{signed.signature_tag} by {signed.key}", _since(ts))
            )
            st.current = "push"
        for name in (tag, spec.moving_tag):
            if name is None:
                continue
            self._push(layout, str(spec.destination.with_tag(name)), digest)
            st.tags.append(name)
        return json.dumps({"digest": st.digest, "tags": st.tags, "signature": st.signature})

    def _push(self, layout: Path, dest: str, digest: str) -> None:
        pushed = self.tools.publisher.push(layout, "build", dest)
        if pushed != digest:
            raise PatchwardenError(
                f"{dest} was pushed as {pushed}, not as the scanned {digest}",
                "the registry or skopeo changed the manifest; report this",
            )

    def _has_manifest(self, repo: ImageRef, digest: str) -> bool:
        try:
            self.registry.inner.head_manifest(repo.with_digest(digest))
        except NotFoundError:
            return False
        return True

    def _discard(self, repo: ImageRef, digest: str, existed: bool) -> str:
        """Remove the untagged manifest of a failed signing; say what became of it."""
        short = _short(digest)
        if existed:
            return f"no tag was pushed ({short} was already in the repository)"
        if self.tools.discard is not None:
            try:
                if self.tools.discard(repo, digest):
                    return f"no tag was pushed and the untagged manifest {short} was deleted"
            except PatchwardenError:
                pass
        return (
            f"no tag was pushed; the untagged manifest {short} stays until the registry's "
            "garbage collection (the registry refused to delete it)"
        )

    def _scan(self, spec: BuildSpec, layout: Path, due: DueDecision | None, st: _State) -> ScanDiff:
        assert self.scanner is not None and st.base_digest is not None  # noqa: S101 - set by the caller when the scan gate is on
        found = self.scanner.scan_layout(layout, "build")
        last = (
            self.store.last_pushed_build(spec.name, str(spec.destination)) if self.store else None
        )
        previous: list[Key]
        if last is not None and last.image_digest:
            previous = [(row[0], row[1]) for row in last.findings]
            what = f"the last build {spec.destination}@{_short(last.image_digest)}"
        elif due is not None and due.last_digest:
            image = spec.destination.with_digest(due.last_digest)
            previous = [key(f) for f in self.scanner.scan_registry(image)]
            what = f"the last image {spec.destination}@{_short(due.last_digest)}"
        else:
            image = spec.base.with_digest(st.base_digest)
            previous = [key(f) for f in self.scanner.scan_registry(image)]
            what = f"the base image {spec.base}"
        return diff(found, previous, what)

    def _existing_tags(self, dest: ImageRef) -> list[str]:
        try:
            return self.registry.inner.list_tags(dest)
        except NotFoundError:
            return []

    def _record(
        self, spec: BuildSpec, r: BuildResult, started: datetime, st: _State
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
        from dataclasses import replace

        return replace(r, record_id=stored.id)


class _State:
    def __init__(self) -> None:
        self.current = "start"
        self.steps: list[Step] = []
        self.image: str | None = None
        self.digest: str | None = None
        self.base_digest: str | None = None
        self.revision: str | None = None
        self.scan: ScanDiff | None = None
        self.tags: list[str] = []
        self.signature: str | None = None


def _handed_over(result: BuildResult, handovers: list[Handover]) -> BuildResult:
    from dataclasses import replace

    steps = [Step(f"then {h.kind.value}", h.ok, h.detail, h.duration_s) for h in handovers]
    return replace(result, steps=(*result.steps, *steps), then=tuple(handovers))


def _since(t: float) -> float:
    return time.monotonic() - t


def _short(digest: str) -> str:
    return digest.split(":")[-1][:12]


def _scan_text(d: ScanDiff) -> str:
    return (
        f"{plural(len(d.findings), 'finding')} ({d.fixable} fixable); "
        f"compared with {d.compared_with}: {len(d.fixed)} fixed, {len(d.introduced)} introduced"
    )


__all__ = ["BuildStore", "ImageScanner", "Rebuilder", "Tools", "git_revision"]
