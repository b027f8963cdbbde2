"""Which containers a live update touches, in which order, and their policy candidates; the
names and labels that mark a replacement in progress (and so a container not to touch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from patchwarden.app.live.model import Candidate, CandidateFn
from patchwarden.core.live import LiveOutcome
from patchwarden.core.ref import ImageRef
from patchwarden.engine.info import ContainerInfo

if TYPE_CHECKING:  # imported when used: a live update without a policy check never loads them
    from patchwarden.app.check.results import CheckReport
    from patchwarden.refs.model import Inventory, Reference

OLD_MARK = "-pw-old-"
NEW_MARK = "-pw-new-"
LABEL_UPDATE_OF = "patchwarden.update-of"  # on a candidate: the id of the container it replaces
LABEL_STATE = "patchwarden.state"


@dataclass(frozen=True, slots=True)
class Selection:
    names: tuple[str, ...] = ()
    opt_in: bool = False  # only containers labelled patchwarden.enable=true
    project: str | None = None  # only containers of this compose project


LABEL_DEPENDS_ON = "patchwarden.depends-on"
COMPOSE_PROJECT = ("com.docker.compose.project", "io.podman.compose.project")
COMPOSE_SERVICE = ("com.docker.compose.service", "io.podman.compose.service")
COMPOSE_DEPENDS = "com.docker.compose.depends_on"


def _label(info: ContainerInfo, keys: Sequence[str]) -> str | None:
    return next((info.labels[k] for k in keys if info.labels.get(k)), None)


def dependencies(containers: Sequence[ContainerInfo]) -> dict[str, set[str]]:
    """Container name -> names of the listed containers it depends on: the
    ``patchwarden.depends-on`` label (comma-separated container names) and compose's
    ``depends_on`` (service names within the same project)."""
    by_name = {c.name: c for c in containers}
    by_service = {
        (_label(c, COMPOSE_PROJECT), _label(c, COMPOSE_SERVICE)): c.name
        for c in containers
        if _label(c, COMPOSE_SERVICE)
    }
    deps: dict[str, set[str]] = {}
    for c in containers:
        wanted = {d.strip() for d in c.labels.get(LABEL_DEPENDS_ON, "").split(",") if d.strip()}
        for item in c.labels.get(COMPOSE_DEPENDS, "").split(","):
            service = item.split(":", 1)[0].strip()
            name = by_service.get((_label(c, COMPOSE_PROJECT), service))
            if name:
                wanted.add(name)
        deps[c.name] = {d for d in wanted if d in by_name and d != c.name}
    return deps


def dependency_order(containers: Sequence[ContainerInfo]) -> list[ContainerInfo]:
    """Dependencies first (see :func:`dependencies`); otherwise by name.
    A cycle does not stop the run: its members follow in name order."""
    by_name = {c.name: c for c in containers}
    deps = dependencies(containers)
    ordered: list[ContainerInfo] = []
    done: set[str] = set()
    remaining = sorted(by_name)
    while remaining:
        ready = [n for n in remaining if deps[n] <= done] or remaining[:1]  # cycle: break it
        for n in ready:
            ordered.append(by_name[n])
            done.add(n)
        remaining = [n for n in remaining if n not in done]
    return ordered


def is_leftover(name: str) -> bool:
    return OLD_MARK in name or NEW_MARK in name


def selected(containers: Sequence[ContainerInfo], selection: Selection) -> list[ContainerInfo]:
    """The containers ``selection`` names (all when it names none), of its compose project
    when it has one, leftovers of an interrupted update excluded; in dependency order."""
    return [
        info
        for info in dependency_order(containers)
        if not (selection.names and info.name not in selection.names)
        and not (selection.project and _label(info, COMPOSE_PROJECT) != selection.project)
        and not is_leftover(info.name)
    ]


class CheckRunner(Protocol):
    """What a live update asks of ``check``: :class:`patchwarden.app.check.Checker`."""

    def run(self, inventory: Inventory) -> CheckReport: ...


def policy_candidates(checker: CheckRunner) -> CandidateFn:
    """Candidates from the same policy logic ``check`` applies (a :class:`Checker`)."""
    from patchwarden.app.check.results import Status
    from patchwarden.refs.model import Inventory

    def candidate_for(info: ContainerInfo, ref: ImageRef) -> Candidate:
        reference = container_reference(info, ref)
        (res,) = checker.run(Inventory((reference,), ())).results
        if res.status == Status.OUTDATED and res.candidate is not None:
            target = ref.with_tag(res.candidate.tag or ref.tag).with_digest(res.candidate.digest)
            if target.digest and target.digest in info.known_digests:
                return Candidate(None, LiveOutcome.UP_TO_DATE, res.reason)
            return Candidate(target, None, res.reason)
        outcome = {
            Status.UP_TO_DATE: LiveOutcome.UP_TO_DATE,
            Status.SKIPPED: LiveOutcome.SKIPPED,
        }.get(res.status, LiveOutcome.FAILED)
        return Candidate(None, outcome, res.reason)

    return candidate_for


def container_reference(info: ContainerInfo, ref: ImageRef) -> Reference:
    """A running container as a ``check`` reference (file ``container:NAME``, line 0)."""
    from patchwarden.refs.model import Reference, RefKind

    return Reference(
        file=f"container:{info.name}",
        line=0,
        kind=RefKind.COMPOSE,
        image=info.image,
        ref=ref.with_digest(info.digest),
        context=f"container {info.name}",
    )
