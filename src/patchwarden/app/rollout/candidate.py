"""``rollout start IMAGE`` without a digest: the candidate ``check`` would choose for IMAGE
under its policy (the same checker, policy rules and trust gate as ``check``), resolved to a
digest once; the rollout records the choice and carries that digest unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from patchwarden.core.ref import ImageRef
from patchwarden.errors import ExitCode, PatchwardenError, UsageError

if TYPE_CHECKING:
    from patchwarden.app.check.checker import Checker


@dataclass(frozen=True, slots=True)
class Chosen:
    given: str  # IMAGE as the user wrote it
    image: str  # repository:tag of the candidate
    digest: str
    update: str | None  # patch | minor | major | digest
    reason: str  # why check chose it (the policy and the tags it passed over)

    def as_dict(self) -> dict[str, Any]:
        return {
            "given": self.given,
            "image": self.image,
            "digest": self.digest,
            "update": self.update,
            "reason": self.reason,
        }


class ChooseCandidate(Protocol):
    def __call__(self, image: ImageRef) -> Chosen: ...


def choose(checker: Checker, image: ImageRef) -> Chosen:
    """The candidate ``check`` chooses for ``image`` (a repository:tag running now), or an
    error saying why there is none: 5 when it is up to date or skipped by policy, 6 when the
    trust gate refuses the candidate, 3 when the registry could not be asked."""
    from patchwarden.app.check.results import Status
    from patchwarden.refs.model import Inventory, Reference, RefKind

    given = image.original or str(image)
    if image.tag is None:
        raise UsageError(
            f"{given} names neither a tag nor a digest",
            "pass IMAGE:TAG (the tag the environments run now: the candidate `check` chooses "
            "from it is rolled out) or IMAGE@DIGEST",
        )
    reference = Reference(
        file="rollout start", line=0, kind=RefKind.COMPOSE, image=given, ref=image
    )
    (res,) = checker.run(Inventory((reference,), ())).results
    if res.status == Status.OUTDATED and res.candidate is not None and res.candidate.digest:
        tag = res.candidate.tag or image.tag
        update = res.update.value if res.update is not None else None
        return Chosen(given, f"{image.name}:{tag}", res.candidate.digest, update, res.reason)
    if res.status == Status.BLOCKED:
        raise PatchwardenError(
            f"the candidate for {given} is refused by the trust gate: {res.reason}",
            "sign the image, or see `patchwarden verify` for what the trust rules expect",
            exit_code=ExitCode.UNTRUSTED,
        )
    if res.status == Status.ERROR:
        raise PatchwardenError(
            f"could not choose a candidate for {given}: {res.reason}",
            "see `patchwarden check` for this image, or pass IMAGE@DIGEST",
            transient=res.transient,
        )
    now = res.current.digest
    hint = "nothing was started; pass IMAGE@DIGEST to roll out a given digest"
    if now:
        hint = (
            f"nothing was started; to roll out what {image.name}:{image.tag} names now, run "
            f"`patchwarden rollout start {image.name}:{image.tag}@{now}`"
        )
    raise PatchwardenError(
        f"no candidate for {given}: {res.reason}", hint, exit_code=ExitCode.SKIPPED
    )
