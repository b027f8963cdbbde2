"""The rebuild's push: by digest, then the signature, then the tags; once per base.

The order makes sure no tag ever names an image that is not signed (when a signing key is
set):

1. the manifest by digest, untagged (``REPO@sha256:...``): nothing resolves to it yet;
2. the signature (``sha256-<hex>.sig``), read back and verified with the public half;
3. the immutable tag, then the moving tag.

A signing failure leaves at most the untagged manifest, which is deleted when it was new and
the registry allows deletes (else the registry's garbage collection removes it); no tag points
to it. With a side-effect ledger (``serve``'s rebuild job), the push of a build is carried out
once per base digest and revision: a retried or re-delivered job that built again pushes
nothing new, and reports what the earlier attempt pushed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from patchwarden.app.effects import EffectGuard
from patchwarden.app.rebuild.model import BuildSpec, Step
from patchwarden.app.rebuild.state import BuildState, since
from patchwarden.app.rebuild.tags import immutable_tag
from patchwarden.app.rebuild.tools import Publisher
from patchwarden.app.trust.signer import Signed
from patchwarden.core.digest import short_hex
from patchwarden.core.ref import ImageRef
from patchwarden.errors import NotFoundError, PatchwardenError
from patchwarden.registry.model import Registry


class ImageSigning(Protocol):
    def sign(self, image: ImageRef, digest: str) -> Signed: ...


class Signers(Protocol):
    def for_key(self, path: str) -> ImageSigning: ...


class Publication:
    """Pushes one exported OCI layout (tag ``build``) to a build's destination."""

    def __init__(
        self,
        registry: Registry,
        publisher: Publisher,
        *,
        discard: Callable[[ImageRef, str], bool] | None,
        effects: EffectGuard | None,
        now: Callable[[], datetime],
    ) -> None:
        self.registry = registry
        self.publisher = publisher
        self.discard = discard
        self.effects = effects
        self.now = now

    def run(
        self, spec: BuildSpec, layout: Path, st: BuildState, signer: ImageSigning | None
    ) -> None:
        """The push step: adds it (and the signing step) to ``st.steps``."""
        t = time.monotonic()
        if self.effects is None:
            self._publish(spec, layout, st, signer)
            st.steps.append(Step("push", True, f"{spec.destination}@{st.digest}", since(t)))
            return
        key = (
            f"image-push:{spec.destination}:{spec.name}:base={st.base_digest}"
            f":rev={st.revision or '-'}"
        )
        ran, done = self.effects.once(
            key, "image-push", lambda: self._publish(spec, layout, st, signer), lambda: False
        )
        if not ran:
            _take_earlier(st, key, done)
        what = f"{spec.destination}@{st.digest}" + (
            "" if ran else " (pushed by an earlier attempt of this job; this build is discarded)"
        )
        st.steps.append(Step("push", True, what, since(t)))

    def _publish(
        self, spec: BuildSpec, layout: Path, st: BuildState, signer: ImageSigning | None
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
                Step("sign", True, f"{signed.signature_tag} by {signed.key}", since(ts))
            )
            st.current = "push"
        for name in (tag, spec.moving_tag):
            if name is None:
                continue
            self._push(layout, str(spec.destination.with_tag(name)), digest)
            st.tags.append(name)
        return json.dumps({"digest": st.digest, "tags": st.tags, "signature": st.signature})

    def _push(self, layout: Path, dest: str, digest: str) -> None:
        pushed = self.publisher.push(layout, "build", dest)
        if pushed != digest:
            raise PatchwardenError(
                f"{dest} was pushed as {pushed}, not as the scanned {digest}",
                "the registry or skopeo changed the manifest; report this",
            )

    def _has_manifest(self, repo: ImageRef, digest: str) -> bool:
        try:
            self.registry.head_manifest(repo.with_digest(digest))
        except NotFoundError:
            return False
        return True

    def _discard(self, repo: ImageRef, digest: str, existed: bool) -> str:
        """Remove the untagged manifest of a failed signing; say what became of it."""
        short = short_hex(digest)
        if existed:
            return f"no tag was pushed ({short} was already in the repository)"
        if self.discard is not None:
            try:
                if self.discard(repo, digest):
                    return f"no tag was pushed and the untagged manifest {short} was deleted"
            except PatchwardenError:
                pass
        return (
            f"no tag was pushed; the untagged manifest {short} stays until the registry's "
            "garbage collection (the registry refused to delete it)"
        )

    def _existing_tags(self, dest: ImageRef) -> list[str]:
        try:
            return self.registry.list_tags(dest)
        except NotFoundError:
            return []


def _take_earlier(st: BuildState, key: str, done: str) -> None:
    """What an earlier attempt pushed (the ledger's JSON) becomes this build's result."""
    try:
        earlier = json.loads(done)
        st.digest, st.tags = earlier["digest"], list(earlier["tags"])
        st.signature = earlier.get("signature")
    except (ValueError, KeyError, TypeError):
        raise PatchwardenError(f"the side-effect ledger's entry {key} is unreadable") from None


__all__ = ["ImageSigning", "Publication", "Signers"]
